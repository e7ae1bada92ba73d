"""Sign in by the electronic social security card's QR code, headless against the simulators:
from the camera (the synthetic subject holds up the phone) and from a barcode scanner on a
pseudo-terminal; a used or expired code is refused with a plain message; offline it is not offered."""

from __future__ import annotations

import threading

import pytest

from kiosk.flows.queries import BalancesAndArrears
from kiosk.flows.steps import AskChoice, Result, ScanQr
from tests.flows.conftest import choice, script

QIAN = ("610113197410120092", "钱多多")


@pytest.fixture
def ecard(counter):
    counter.sims.bureau.admin("POST", "/ecard/reset", {})
    yield counter
    counter.sims.bureau.admin("PUT", "/ecard/clock", {"offset_s": 0})
    counter.sims.bureau.admin("POST", "/ecard/reset", {})
    counter.desk.camera.show_qr(None)


def issue(counter) -> str:
    return str(counter.sims.bureau.admin("POST", "/ecard/tokens", {"id_number": QIAN[0]})["token"])


ONLINE = {"reader_ok": True, "camera_ok": True, "qr_ok": True, "bureau_ok": True}


def test_signed_in_by_the_qr_code_on_the_camera(ecard):
    ecard.desk.camera.show_qr(issue(ecard))
    run = ecard.run(BalancesAndArrears, script((choice("identify"), "ecard")), **ONLINE)
    assert run.outcome.result is Result.INFO and run.outcome.title == "balance.title", run.outcome
    ask = run.steps[0]
    assert isinstance(ask, AskChoice) and "ecard" in [o.value for o in ask.options]
    assert any(isinstance(s, ScanQr) for s in run.steps)
    assert run.runner is not None and run.runner.flow.identity is not None
    assert run.runner.flow.identity.assurance.method == "ecard_qr"


def test_signed_in_by_the_qr_code_on_a_scanner(ecard):
    from kiosk.hw.scanner_serial import open_scanner
    from simulators.scanner import ScannerSim

    with ScannerSim() as sim:
        scanner = open_scanner(f"serial:{sim.device}")
        devices = ecard.desk.services.devices
        kept, devices.scanner = getattr(devices, "scanner", None), scanner
        token = issue(ecard)

        def citizen(work):  # holds the phone to the scanner once the screen asks for it
            if isinstance(work, ScanQr):
                threading.Timer(0.5, sim.scan, (token,)).start()

        try:
            run = ecard.run(BalancesAndArrears, script((choice("identify"), "ecard")), before_work=citizen, **ONLINE)
        finally:
            devices.scanner = kept
            scanner.close()
    assert run.outcome.result is Result.INFO, run.outcome


@pytest.mark.parametrize("spoil,title", [("reuse", "ecard.error.token_used.title"),
                                         ("expire", "ecard.error.token_expired.title")])
def test_a_used_or_expired_code_is_refused_plainly(ecard, spoil, title):
    token = issue(ecard)
    if spoil == "reuse":
        ecard.desk.ecard_sign_in(token)  # signed in once already
    else:
        ecard.sims.bureau.admin("PUT", "/ecard/clock", {"offset_s": 61})  # a token lives 60 s

    ecard.desk.camera.show_qr(token)
    fresh: list[str] = []

    def again(ask):  # "try again": the phone shows a fresh code, scanned anew
        fresh.append(issue(ecard))
        ecard.desk.camera.show_qr(fresh[-1])
        return True

    run = ecard.run(BalancesAndArrears, script((choice("identify"), "ecard"),
                                               (lambda a: getattr(a, "name", "") == "ecard_refused"
                                                and a.title == title, again)), **ONLINE)
    assert fresh and run.outcome.result is Result.INFO, run.outcome  # signed in with the fresh one
    assert run.kinds().count("ScanQr") == 2


def test_offline_the_qr_code_is_not_offered(ecard):
    from kiosk.flows import Context

    for online, ways in ((True, ["card", "ecard", "face"]), (False, ["card", "face"])):
        ask = BalancesAndArrears(Context(ecard.desk, **{**ONLINE, "bureau_ok": online})).start()
        assert isinstance(ask, AskChoice) and [o.value for o in ask.options] == ways
