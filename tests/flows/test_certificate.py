"""The participation certificate (参保证明) headless against the simulators: identified by card (or
by an e-card sign-in earlier in the session), the bureau issues the certificate through the sync
daemon, the printer simulator gets it over TCP. The QR code read back from the printed raster
image is the bureau's verification URL, and the bureau accepts its code; text mode prints the
code in words; a printer out of paper is said plainly and printing again works once paper is
back; a bureau gone mid-flow is the plain offline message; offline the service is not offered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from kiosk.flows import Identity, flow_for
from kiosk.flows.certificate import ParticipationCertificateFlow, period_months, period_options
from kiosk.flows.steps import AskConfirm, Result, Text
from kiosk.hw.health import DeviceHealth
from kiosk.i18n import Translator
from kiosk.services.catalog import CARE_HOME, SERVICES, availability
from kiosk.services.desk import Desk
from tests import openapi_util
from tests.bureau_harness import checked
from tests.flows.conftest import choice, pin, script

QIAN = ("answers_61xx", "610113197410120092", "J00000010", "741852", "钱多多")  # owes 2024-11..2025-01
CLOCK = dt.datetime(2025, 6, 15, 10, 0, 0)  # the kiosk's clock: the last 12 months are 2024-07..2025-06
SPEC = next(s for s in SERVICES if s.id == "participation_certificate")


# ---------------------------------------------------------------------------------- rules
def test_periods_by_the_kiosks_date():
    assert period_months("last_12", dt.date(2025, 6, 15)) == ("2024-07", "2025-06")
    assert period_months("last_12", dt.date(2025, 1, 2)) == ("2024-02", "2025-01")
    assert period_months("last_12", dt.date(2025, 12, 31)) == ("2025-01", "2025-12")
    assert period_months("this_year", dt.date(2025, 6, 15)) == ("2025-01", "2025-06")
    assert period_months("last_year", dt.date(2025, 1, 1)) == ("2024-01", "2024-12")
    assert period_months("since_first", dt.date(2025, 6, 15), "1996-01") == ("1996-01", "2025-06")
    with pytest.raises(ValueError):
        period_months("forever", dt.date(2025, 6, 15))
    options = period_options(dt.date(2025, 6, 15))
    assert [o.value for o in options] == ["last_12", "this_year", "last_year", "since_first"]  # the default first
    # months reach the screen as values the translator words: 2024年7月 至 2025年6月, never 2024-07
    assert Translator("zh_CN")(options[0].hint, **options[0].fields) == "2024年7月 至 2025年6月"
    assert Translator("en")(options[0].hint, **options[0].fields) == "July 2024 to June 2025"


def test_offered_only_with_the_bureau_and_the_printer_and_in_the_care_homes_lookups():
    ok = DeviceHealth.ok()
    health = {"reader": ok, "camera": ok, "bureau": ok, "printer": ok}
    assert availability(SPEC, health).available
    offline = availability(SPEC, {**health, "bureau": DeviceHealth.offline("health.bureau.offline")})
    assert not offline.available and offline.reason == "health.bureau.offline" and offline.device == "bureau"
    no_paper = availability(SPEC, {**health, "printer": DeviceHealth.offline("health.printer.paper_out")})
    assert not no_paper.available and no_paper.reason == "health.printer.paper_out"
    assert "participation_certificate" in next(t for t in CARE_HOME if t.id == "queries").services
    assert flow_for("participation_certificate") is ParticipationCertificateFlow


# ---------------------------------------------------------------------------------- against the simulators
@pytest.fixture
def kiosk(counter, monkeypatch) -> Iterator[Any]:
    """The counter with the kiosk's clock fixed, and every question to the bureau recorded."""
    counter.desk = Desk(counter.desk.services, now=lambda: CLOCK)
    sync = counter.desk.services.sync
    real, counter.asked = sync.query, []

    def query(kind: str, body: dict, timeout: float) -> dict:
        answer = real(kind, body, timeout)
        counter.asked.append((kind, body, answer))
        return answer

    monkeypatch.setattr(sync, "query", query)
    yield counter
    counter.sims.printer.set_state("ok")
    counter.sims.bureau.admin("PUT", "/faults", {"error_rate": 0})


def signed_in(counter) -> dict[str, Any]:
    """An identity from an earlier service of the session (an e-card sign-in), as the host passes it."""
    token = counter.sims.bureau.admin("POST", "/ecard/tokens", {"id_number": QIAN[1]})["token"]
    signed = counter.desk.ecard_sign_in(token)
    return {"identity": Identity(signed.id_number, signed.name, signed.assurance)}


def issued(counter) -> tuple[dict, dict]:
    _kind, body, answer = next(a for a in counter.asked if a[0] == "participation_certificate")
    openapi_util.validate("ParticipationCertificateRequest", body)
    openapi_util.validate("ParticipationCertificate", answer)
    return body, answer


def test_printed_by_card_in_raster_mode_its_qr_code_verifies_at_the_bureau(kiosk, monkeypatch):
    monkeypatch.setattr(kiosk.desk.services.printing, "mode", "raster")
    before = len(kiosk.sims.printer.receipts)
    kiosk.insert(QIAN[0])
    run = kiosk.run(ParticipationCertificateFlow, script(
        (choice("identify"), "card"), (pin("card.pin.title"), QIAN[3]),
        (choice("pick_insurances"), "all"), (choice("pick_period"), "last_12")))
    out = run.outcome
    assert out.result is Result.DONE and out.name == "certificate", out
    body, answer = issued(kiosk)
    assert (body["insurances"], body["from"], body["to"]) == (
        ["pension", "medical", "unemployment", "work_injury", "maternity"], "2024-07", "2025-06")
    assert body["assurance"]["method"] == "card_pin"
    code, url = answer["verification"]["code"], answer["verification"]["url"]
    # the summary on screen is the bureau's answer
    assert out.table is not None and out.table.rows == tuple(
        (Text(f"insurance.{r['insurance']}"), Text("records.months", n=r["months_paid"]),
         Text("records.months", n=r["months_owed"])) for r in answer["rows"])
    assert answer["rows"][0]["months_paid"] == 9 and answer["rows"][0]["months_owed"] == 3
    assert dict(out.table.totals)["certificate.code"] == code
    # on paper: one raster image whose QR code is the verification page holding the code
    receipts = kiosk.sims.printer.wait_for_receipts(before + 1)
    paper = receipts[-1]
    assert paper.complete and "[image " in paper.text and not paper.lines and not paper.qr_payloads
    read = [c.text for c in zxingcpp.read_barcodes(Image.open(paper.png))]
    assert read == [url] and url.endswith(code)
    status, _h, check = checked(kiosk.sims.bureau, "POST", "/v1/certificates/verify",
                                {"verification_code": read[0].rsplit("/", 1)[-1]})
    assert status == 200 and check["certificate_id"] == answer["certificate_id"]
    assert check["citizen"]["id_number_masked"] == "6101**********0092"
    assert check["rows"] == answer["rows"]


def test_text_mode_prints_the_code_in_words_and_a_native_qr_code(kiosk):
    before = len(kiosk.sims.printer.receipts)
    run = kiosk.run(ParticipationCertificateFlow, script(
        (choice("pick_insurances"), "pension"), (choice("pick_period"), "since_first")), **signed_in(kiosk))
    assert run.outcome.result is Result.DONE, run.outcome
    assert [a[0] for a in kiosk.asked] == ["payment_base", "participation_certificate"]
    body, answer = issued(kiosk)
    assert (body["insurances"], body["from"], body["to"]) == (["pension"], "1996-01", "2025-06")
    assert body["assurance"]["method"] == "ecard_qr"
    paper = kiosk.sims.printer.wait_for_receipts(before + 1)[-1]
    code = answer["verification"]["code"]
    assert code in paper.text and paper.qr_payloads == (answer["verification"]["url"],)
    # the holder named in full, the ID number masked; the employers and the months as certified
    assert "钱多多" in paper.text and QIAN[1] not in paper.text and "6101**********0092" in paper.text
    assert "西安小寨百货有限公司" in paper.text and "1996-01" in paper.text
    assert checked(kiosk.sims.bureau, "POST", "/v1/certificates/verify", {"verification_code": code})[0] == 200


def test_out_of_paper_is_said_and_printing_again_once_paper_is_back_prints_it(kiosk):
    printer = kiosk.sims.printer
    before = len(printer.receipts)
    seen: list[AskConfirm] = []

    def no_paper(work: Any) -> None:
        if work.name == "print_certificate" and not seen:
            printer.set_state("paper_out")

    def paper_back(ask: AskConfirm) -> bool:
        seen.append(ask)
        printer.set_state("ok")  # staff put in a new roll
        return True

    run = kiosk.run(ParticipationCertificateFlow, script(
        (choice("pick_insurances"), "all"), (choice("pick_period"), "last_year"),
        (lambda a: isinstance(a, AskConfirm) and a.name == "certificate_not_printed", paper_back)),
        before_work=no_paper, **signed_in(kiosk))
    assert run.outcome.result is Result.DONE, run.outcome
    ask = seen[0]
    assert (ask.title, ask.body, ask.yes, ask.back) == ("certificate.not_printed.title",
                                                        "certificate.not_printed.paper_out", "nav.try_again", False)
    assert [a[0] for a in kiosk.asked] == ["participation_certificate"]  # issued once, printed twice
    _body, answer = issued(kiosk)
    papers = printer.wait_for_receipts(before + 1)[before:]
    assert len(papers) == 1 and answer["verification"]["code"] in papers[0].text


def test_the_bureau_gone_mid_flow_is_said_plainly_with_a_retry(kiosk):
    gone: list[str] = []

    def bureau_goes(work: Any) -> None:
        if work.name == "certificate" and not gone:  # once: the retry finds the bureau back
            gone.append(work.name)
            kiosk.sims.bureau.admin("PUT", "/faults", {"error_rate": 1})

    before = len(kiosk.sims.printer.receipts)
    run = kiosk.run(ParticipationCertificateFlow, script(
        (choice("pick_insurances"), "medical"), (choice("pick_period"), "this_year")),
        before_work=bureau_goes, **signed_in(kiosk))
    out = run.outcome
    assert out.result is Result.FAILED and out.retry, out
    assert (out.title, out.body) == ("query.error.offline.title", "query.error.offline.body")
    assert len(kiosk.sims.printer.receipts) == before  # nothing printed
    # the bureau back, the retry asks again and prints (and the daemon is online for the next test)
    kiosk.sims.bureau.admin("PUT", "/faults", {"error_rate": 0})
    assert run.runner is not None
    run.runner.retry()
    again = run.runner.current
    assert getattr(again, "result", None) is Result.DONE, again
    assert len(kiosk.sims.printer.receipts) == before + 1
