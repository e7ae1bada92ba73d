"""Citizen queries end to end: card + PIN over PC/SC, the question through the sync daemon to the
bureau simulator over mutual TLS, the figures on screen compared with the bureau's own answer."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.i18n.dates import long_date
from kiosk.services.queries import yuan
from tests.bureau_harness import card_pin, checked

QIAN = ("answers_61xx", "610113197410120092", "J00000010", "741852")  # 钱多多: three owed months
WANG = ("activated", "110105195803120029", "A00000001", "258147")  # 王秀英: retiree
SUN = ("expired", "320102196902280057", "E00000006", "802461")  # 孙志强: new card ready at an outlet


def identify(k, who):
    persona, _id, _card, pin = who
    k.sims.card.ctl(f"INSERT {persona}")
    k.until(lambda: k.ui.screen.name in ("identify", "pin_entry"), 20, "identification")
    if k.ui.screen.name == "identify":  # card or face: this test goes by card
        k.tap("choice-card")
    k.screen("pin_entry")
    k.type(pin)
    k.tap("confirm")


def bureau_answer(k, path, who, **extra):
    _p, id_number, card, _pin = who
    body = {"id_number": id_number, "assurance": card_pin(k.sims.bureau, card), **extra}
    status, _h, answer = checked(k.sims.bureau, "POST", f"/v1/queries/{path}", body)
    assert status == 200
    return answer


@pytest.fixture
def faults(sims):
    yield lambda **f: sims.bureau.admin("PUT", "/faults", f)
    sims.bureau.admin("PUT", "/faults", {"error_rate": 0, "drop_rate": 0, "throttle_rate": 0, "garbage_rate": 0,
                                         "latency_ms": 0})


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_payment_records_show_the_bureaus_figures_and_print_a_summary(make_kiosk, lang):
    k = make_kiosk(lang)
    k.tap("tile-payment_records")
    identify(k, QIAN)
    k.screen("pick_insurance")
    k.shot("records-pick-insurance")
    k.tap("choice-pension")
    k.screen("pick_year")
    year = dt.date.today().year - 2
    k.tap(f"choice-{year}")
    table = k.screen("records", timeout=30)
    k.shot("records-table")
    want = bureau_answer(k, "payment-records", QIAN, insurance="pension", year=year)
    shown = [tuple(r[:4]) for r in table.rows]
    assert shown == [(r["month"], yuan(__import__("decimal").Decimal(r["base"])),
                      yuan(__import__("decimal").Decimal(r["employer_amount"])),
                      yuan(__import__("decimal").Decimal(r["personal_amount"]))) for r in want["rows"]]
    owed = [r[0] for r in table.rows if r[4] == k.ui.t("records.owed")]
    assert owed == [r["month"] for r in want["rows"] if r["status"] == "owed"]
    assert dict(table.totals)["records.total_personal"] == yuan(__import__("decimal").Decimal(want["total_personal"]))
    if len(table.rows) > table.per_page:
        k.tap("next")
        assert table.page == 1
        k.shot("records-table-page2")
    before = len(k.sims.printer.receipts)
    k.tap("print")
    k.until(lambda: len(k.sims.printer.receipts) > before, 30, "summary receipt")
    assert QIAN[1] not in k.sims.printer.receipts[-1].text


def test_balances_and_arrears(make_kiosk):
    k = make_kiosk()
    k.tap("tile-balances")
    identify(k, QIAN)
    result = k.screen("result", timeout=30)
    k.shot("balances")
    pension = bureau_answer(k, "pension-account", QIAN)
    arrears = bureau_answer(k, "arrears", QIAN)
    facts = dict(result.facts)
    assert facts["balance.pension_total"] == yuan(__import__("decimal").Decimal(pension["total"]))
    assert result.body == "balance.arrears_body" and arrears["items"]
    assert result.fields["total"] == yuan(__import__("decimal").Decimal(arrears["total"]))


def test_pension_paid_for_a_retiree(make_kiosk):
    k = make_kiosk("en")
    k.tap("tile-pension_received")
    identify(k, WANG)
    k.screen("pick_year")
    year = dt.date.today().year - 2
    k.tap(f"choice-{year}")
    table = k.screen("pension", timeout=30)
    k.shot("pension-paid")
    want = bureau_answer(k, "pension-payments", WANG, year=year)
    # the months in the citizen's words (2024年1月 / January 2024), in the language the table was built in
    assert [r[0] for r in table.rows] in ([long_date(p["month"], lang) for p in want["payments"]] for lang in ("zh_CN", "en"))
    assert all("*" in r[4] for r in table.rows)  # the bank account stays masked


def test_card_application_progress_timeline(make_kiosk):
    k = make_kiosk()
    k.tap("tile-application_progress")
    identify(k, SUN)
    timeline = k.screen("progress", timeout=30)
    k.shot("progress")
    states = {s.key.rsplit(".", 1)[1]: s.state for s in timeline.stages}
    assert states["printing_at_bank"] == "done" and states["ready_at_outlet"] == "current"
    assert states["collected"] == "pending"
    assert timeline.note == "progress.ready_note" and timeline.fields["address"]


def test_bureau_down_queries_fail_plainly_and_can_be_retried(make_kiosk, faults):
    k = make_kiosk()
    k.tap("tile-balances")
    persona, _id, _card, pin = QIAN
    k.sims.card.ctl(f"INSERT {persona}")
    k.tap("choice-card")
    k.screen("pin_entry")
    k.type(pin)
    faults(drop_rate=1.0)  # the bureau goes away while the citizen types the PIN
    k.tap("confirm")
    k.until(lambda: k.ui.screen.name == "message", 60, "the offline message")
    assert k.ui.screen.heading == "query.error.offline.title"
    k.shot("query-offline")
    faults(drop_rate=0)
    k.tap("retry")
    k.screen("result", timeout=30)


def test_activation_made_offline_is_queued_and_arrives_later(make_kiosk, faults):
    k = make_kiosk()
    faults(drop_rate=1.0)  # the kiosk does not know yet: the first thing that needs the bureau finds out
    k.sims.card.ctl("INSERT new_card_4")
    k.tap("tile-activate_card")
    k.screen("confirm_card")
    k.tap("yes")
    k.screen("pin_entry")
    k.type("123456")
    k.tap("confirm")
    k.screen("pin_choice", timeout=40)
    k.tap("choice-new")
    k.until(lambda: k.ui.screen.name == "pin_entry" and k.ui.screen.title_key == "card.new_pin.title", 40, "new PIN")
    for _ in range(2):
        k.type("246813")
        k.tap("confirm")
        k.frame()
    result = k.screen("result", timeout=30)
    assert (result.heading, result.body, result.kind) == ("card.activate.pending.title", "card.activate.pending.body",
                                                         "pending")
    k.shot("card-activate-queued")
    outbox = k.ui.services.outbox.outbox
    assert outbox.holds(result.reference)  # not acknowledged: safe in the kiosk's queue
    faults(drop_rate=0)
    k.sims.wait_submission(result.reference, timeout=60)
    k.until(lambda: not outbox.holds(result.reference), 60, "acknowledged and removed from the queue")
    assert [s["reference"] for s in k.sims.submissions()].count(result.reference) == 1


def test_activation_made_offline_carries_the_cards_offline_proof(make_kiosk, faults):
    """Offline, the kiosk draws the challenge: the queued activation carries the challenge and the
    card's answer, which the bureau verifies when it arrives (and accepts once)."""
    k = make_kiosk()
    faults(drop_rate=1.0)
    k.sims.card.ctl("INSERT new_card_3")
    k.tap("tile-activate_card")
    k.screen("confirm_card", timeout=40)
    k.tap("yes")
    k.screen("pin_entry")
    k.type("123456")
    k.tap("confirm")
    k.screen("pin_choice", timeout=40)
    k.tap("choice-new")
    k.until(lambda: k.ui.screen.name == "pin_entry" and k.ui.screen.title_key == "card.new_pin.title", 40, "new PIN")
    for _ in range(2):
        k.type("246813")
        k.tap("confirm")
        k.frame()
    result = k.screen("result", timeout=30)
    assert (result.heading, result.body, result.kind) == ("card.activate.pending.title", "card.activate.pending.body",
                                                         "pending")
    faults(drop_rate=0)
    stored = k.sims.wait_submission(result.reference, timeout=60)
    detail = k.sims.bureau.admin("GET", f"/submissions/{stored['idempotency_key']}")
    assert detail["answer"]["outcome"] == "accepted"
    proof = detail["payload"]["data"]["assurance"]["card_auth"]
    assert len(bytes.fromhex(proof["challenge"])) == 8 and len(bytes.fromhex(proof["cryptogram"])) == 16
