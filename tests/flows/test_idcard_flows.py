"""Identification by the resident ID card, headless against the ID card reader simulator (a real
pseudo-terminal speaking GA 467) and the bureau: the card says who, the face check proves it."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.flows.certify import PensionAuth
from kiosk.flows.queries import BalancesAndArrears
from kiosk.flows.steps import AskChoice, AskConsent, AskPictures, AskReview, Result, WaitForIdCard
from kiosk.services.desk import Desk
from tests.flows.conftest import choice, kind, script

WANG = "110105195803120029"


@pytest.fixture
def idcard(counter):
    from kiosk.hw.idcard_serial import open_idcard
    from simulators.idcard import IdCardReaderSim

    sim = IdCardReaderSim().start()
    reader = open_idcard(f"serial:{sim.device}")
    devices = counter.desk.services.devices
    kept, devices.idcard = devices.idcard, reader
    yield sim
    devices.idcard = kept
    reader.close()
    sim.close()


def test_pension_authentication_with_the_id_card(counter, idcard):
    """GIVEN 王秀英's ID card on the reader WHEN she authenticates THEN the card gives her number
    and name (nothing typed), the face check proves it, and the bureau has her certification."""
    idcard.insert("wang")
    run = counter.run(PensionAuth, script(
        (choice("identify"), "idcard"),
        (choice("residence"), "local"),
        (kind(AskConsent), True),
        (kind(AskPictures), True),
        (kind(AskReview), True)), reader_ok=True, camera_ok=True, idcard_ok=True)
    out = run.outcome
    assert out.result is Result.DONE, out
    ask = run.steps[0]
    assert isinstance(ask, AskChoice) and [o.value for o in ask.options] == ["idcard", "card", "face"]
    assert any(isinstance(s, WaitForIdCard) for s in run.steps)
    asks = [s for s in run.steps if not type(s).__name__.startswith(("Work", "Wait", "Check", "Printing"))]
    assert len(asks) == 5  # the taps from the first question to the result: no digit, no pinyin
    payload = counter.sims.bureau.admin(
        "GET", f"/submissions/{counter.sims.wait_submission(out.reference)['idempotency_key']}")["payload"]
    assert payload["citizen"]["id_number"] == WANG
    assert payload["data"]["assurance"]["method"] == "face_match"


def test_a_card_pulled_mid_read_or_a_corrupt_frame_says_so_with_a_retry(counter, idcard):
    idcard.insert("wang")
    for fault, title in (("pull", "idcard.error.removed.title"), ("corrupt", "idcard.error.unreadable.title")):
        idcard.fault(fault)
        run = counter.run(BalancesAndArrears, script((choice("identify"), "idcard")), reader_ok=False,
                          camera_ok=True, idcard_ok=True)
        assert run.outcome.result is Result.FAILED and run.outcome.title == title and run.outcome.retry, run.outcome
        idcard.clear()


def test_an_expired_id_card_is_refused_with_its_date_on_a_trusted_clock_only(counter, idcard):
    idcard.insert("liu_expired")
    answers = lambda: script((choice("identify"), "idcard"))  # noqa: E731
    counter.desk = Desk(counter.desk.services, clock_trusted=lambda: True)
    run = counter.run(BalancesAndArrears, answers(), reader_ok=False, camera_ok=True, idcard_ok=True)
    assert run.outcome.result is Result.FAILED and run.outcome.name == "idcard_expired"
    until = run.outcome.fields["until"]  # a date: the screen words it (2026年12月31日)
    assert isinstance(until, dt.date) and until < dt.date.today()
    counter.desk = Desk(counter.desk.services)  # the clock not trusted: the card is not judged expired
    run = counter.run(BalancesAndArrears, script((choice("identify"), "idcard"), (kind(AskConsent), False)),
                      reader_ok=False, camera_ok=True, idcard_ok=True)
    assert run.outcome.name == "consent_declined"  # it went on to the face check
