"""The query flows run headless by card to each of their outcomes against the simulators; what they
show is compared with the bureau's own answer for the same citizen. Their rules (the years offered,
the milestones' states, the query reference) are checked on their own first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from kiosk.flows import flow_for
from kiosk.flows.driver import BACK
from kiosk.flows.queries import (
    ApplicationProgress,
    BalancesAndArrears,
    ContributionRecords,
    PensionReceived,
    Text,
    account_shown,
    milestones,
    query_reference,
    year_options,
)
from kiosk.flows.steps import AskChoice, Result, Work, shown
from kiosk.i18n import Translator
from kiosk.i18n.dates import YearMonth, from_iso
from kiosk.services.desk import Desk
from kiosk.services.queries import Application, yuan
from tests.bureau_harness import card_pin, checked
from tests.flows.conftest import choice, pin, script

WANG = ("activated", "110105195803120029", "A00000001", "258147")  # 王秀英: retired, owes nothing, no application
QIAN = ("answers_61xx", "610113197410120092", "J00000010", "741852")  # 钱多多: working, owes 2024-11..2025-01
SUN = ("expired", "320102196902280057", "E00000006", "802461")  # 孙志强: a new card ready at an outlet
CLOCK = dt.datetime(2025, 3, 1, 9, 30, 5)  # the kiosk's clock in the tests that set it


# ---------------------------------------------------------------------------------- rules
def test_query_reference_is_the_kiosk_and_the_moment():
    assert query_reference("KIOSK-0001", CLOCK) == "KIOSK-0001-Q20250301093005"
    assert query_reference("K7", dt.datetime(2024, 12, 31, 23, 59, 59)) == "K7-Q20241231235959"


def test_years_offered_are_this_year_by_the_given_clock_and_three_before():
    options = year_options(dt.date(2025, 1, 1))
    assert [o.value for o in options] == [2025, 2024, 2023, 2022]
    assert all(o.label == "records.year" and o.fields == {"year": o.value} for o in options)


def _app(current: str, reached: dict[str, str]) -> Application:
    return Application("APP-1", current, reached, "outlet", "address", "")


def test_milestones_done_current_pending():
    app = _app("printing_at_bank", {"submitted": "2025-02-03", "approved": "2025-02-05",
                                    "sent_to_province": "2025-02-10", "printing_at_bank": "2025-02-20"})
    shown = [(m.label, m.when, m.state) for m in milestones(app)]
    assert shown == [("progress.stage.submitted", "2025-02-03", "done"),
                     ("progress.stage.approved", "2025-02-05", "done"),
                     ("progress.stage.sent_to_province", "2025-02-10", "done"),
                     ("progress.stage.printing_at_bank", "2025-02-20", "current"),
                     ("progress.stage.ready_at_outlet", "", "pending"),
                     ("progress.stage.collected", "", "pending")]


def test_milestones_collected_is_all_done_and_an_unknown_stage_counts_as_the_first():
    assert [m.state for m in milestones(_app("collected", {}))] == ["done"] * 6
    assert [m.state for m in milestones(_app("lost_in_the_post", {}))] == ["current"] + ["pending"] * 5


def test_text_carries_its_fields_and_stays_a_message_id():
    months = Text("records.months", n=30)
    assert months == "records.months" and isinstance(months, str) and dict(months.fields) == {"n": 30}
    assert months == Text("records.months", n=30) and months != Text("records.months", n=31)
    with pytest.raises(AttributeError):
        months.fields = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        months.fields["n"] = 1  # type: ignore[index]


def test_an_account_stays_masked():
    assert account_shown("6222****3445") == "6222****3445"
    assert account_shown("6222020200112233445") == "***************3445"


def test_the_registry_finds_the_query_flows():
    assert flow_for("payment_records") is ContributionRecords
    assert flow_for("pension_received") is PensionReceived
    assert flow_for("balances") is BalancesAndArrears
    assert flow_for("application_progress") is ApplicationProgress


# ---------------------------------------------------------------------------------- against the simulators
@pytest.fixture
def faults(sims):
    yield lambda **f: sims.bureau.admin("PUT", "/faults", f)
    sims.bureau.admin("PUT", "/faults", {"error_rate": 0, "drop_rate": 0, "throttle_rate": 0, "garbage_rate": 0,
                                         "latency_ms": 0})


def bureau(counter, path: str, who: tuple[str, ...], **extra: Any) -> Any:
    """The bureau's own answer to the same question."""
    _persona, id_number, card, _pin = who
    body = {"id_number": id_number, "assurance": card_pin(counter.sims.bureau, card), **extra}
    status, _h, answer = checked(counter.sims.bureau, "POST", f"/v1/queries/{path}", body)
    assert status == 200, answer
    return answer


def by_card(who: tuple[str, ...], *more: tuple[Callable[[Any], bool], Any]) -> Callable[[Any], Any]:
    return script((choice("identify"), "card"), (pin("card.pin.title"), who[3]), *more)


def test_contributions_table_totals_and_receipt_on_request(counter):
    counter.desk = Desk(counter.desk.services, now=lambda: CLOCK)  # the kiosk's clock, not the host's
    counter.insert(QIAN[0])
    run = counter.run(ContributionRecords, by_card(QIAN, (choice("pick_insurance"), "medical"),
                                                   (choice("pick_year"), BACK),  # another insurance after all
                                                   (choice("pick_insurance"), "pension"),
                                                   (choice("pick_year"), 2024)))
    out = run.outcome
    assert out.result is Result.INFO and out.name == "records", out
    years = next(s for s in run.steps if isinstance(s, AskChoice) and s.name == "pick_year")
    assert [o.value for o in years.options] == [2025, 2024, 2023, 2022]
    query = next(s for s in run.steps if isinstance(s, Work) and s.name == "query")
    assert query.timeout_s == counter.desk.settings.query_timeout_s + 5 and not query.on_error
    want = bureau(counter, "payment-records", QIAN, insurance="pension", year=2024)
    assert out.table is not None and len(out.table.rows) == 12
    assert out.table.rows == tuple(
        (r["month"], yuan(Decimal(r["base"])), yuan(Decimal(r["employer_amount"])),
         yuan(Decimal(r["personal_amount"])), Text(f"records.{r['status']}")) for r in want["rows"])
    assert [r[0] for r in out.table.rows if r[4] == Text("records.owed")] == ["2024-11", "2024-12"]
    # the whole year at a glance, the months owed flagged for the screen to mark
    assert out.table.year == 2024 and out.table.flagged == tuple(r["status"] == "owed" for r in want["rows"])
    base = bureau(counter, "payment-base", QIAN)
    months_paid = next(p["months_paid"] for p in base["periods"] if p["insurance"] == "pension")
    assert out.table.totals == (("records.total_employer", yuan(Decimal(want["total_employer"]))),
                                ("records.total_personal", yuan(Decimal(want["total_personal"]))),
                                ("records.months_total", Text("records.months", n=months_paid)))
    assert out.fields == {"insurance": Text("insurance.pension"), "year": 2024}
    # nothing printed until the citizen asks; then the summary, the ID number never in full
    assert run.receipt_note == "" and not out.print_now
    printed = len(counter.sims.printer.receipts)
    assert run.runner is not None
    run.runner.print_receipt()
    assert run.runner.receipt_note == "result.receipt_printed" and run.runner.current == out
    receipt = counter.sims.printer.receipts[-1]
    assert len(counter.sims.printer.receipts) == printed + 1
    assert "KIOSK-0001-Q20250301093005" in receipt.text and QIAN[1] not in receipt.text


def test_pension_paid_to_a_retiree(counter):
    counter.insert(WANG[0])
    year = counter.desk.now().year - 2
    run = counter.run(PensionReceived, by_card(WANG, (choice("pick_year"), year)))
    out = run.outcome
    assert out.result is Result.INFO and out.name == "pension", out
    want = bureau(counter, "pension-payments", WANG, year=year)
    assert out.table is not None and len(out.table.rows) == 12
    assert out.table.rows == tuple((Text("date.shown", date=from_iso(p["month"])), yuan(Decimal(p["amount"])),
                                    Text("date.shown", date=from_iso(p["paid_on"])), p["bank"],
                                    p["account_masked"]) for p in want["payments"])
    first = want["payments"][0]  # months and days as a citizen reads them: 2024年1月, 2024年1月15日
    assert shown(out.table.rows[0][0], Translator("zh_CN")) == f"{year}年{int(first['month'][5:7])}月"
    assert shown(out.table.rows[0][2], Translator("en")).endswith(f" {year}") and "-" not in shown(
        out.table.rows[0][2], Translator("en"))
    assert all(r[4].endswith("3445") and "0200112233" not in r[4] for r in out.table.rows)
    assert out.table.totals == (("pension.total", yuan(Decimal(want["total"]))),)
    assert out.fields == {"year": year}


def test_pension_for_someone_not_retired_is_information(counter):
    counter.insert(QIAN[0])
    run = counter.run(PensionReceived, by_card(QIAN, (choice("pick_year"), counter.desk.now().year)))
    assert run.outcome.result is Result.INFO and run.outcome.name == "not_retired"
    assert (run.outcome.title, run.outcome.body) == ("pension.not_retired.title", "pension.not_retired.body")
    assert run.outcome.table is None


def test_balances_and_arrears_by_insurance(counter):
    counter.insert(QIAN[0])
    out = counter.run(BalancesAndArrears, by_card(QIAN)).outcome
    assert out.result is Result.INFO and out.body == "balance.arrears_body", out
    pension, medical = bureau(counter, "pension-account", QIAN), bureau(counter, "medical-account", QIAN)
    arrears = bureau(counter, "arrears", QIAN)
    owed: dict[str, Decimal] = {}
    for item in arrears["items"]:
        owed[item["insurance"]] = owed.get(item["insurance"], Decimal(0)) + Decimal(item["amount"])
    assert len(owed) == 5  # every insurance is owed for the same three months
    assert out.facts == (("balance.pension_total", yuan(Decimal(pension["total"]))),
                         ("balance.pension_months", Text("records.months", n=pension["months_contributed"])),
                         ("balance.medical", yuan(Decimal(medical["balance"]))),
                         *((f"insurance.{ins}", Text("balance.owed", amount=yuan(owed[ins]), since=YearMonth(2024, 11)))
                           for ins in sorted(owed)))
    assert out.fields == {"as_of": from_iso(medical["as_of"]), "total": yuan(Decimal(arrears["total"]))}


def test_bureau_failing_is_explained_and_retried(counter, faults):
    """GIVEN the bureau answers every query with an error once the citizen is identified THEN the
    query fails explained with a retry; once the bureau is back, retrying reaches the balances."""
    counter.insert(WANG[0])
    broken: list[str] = []

    def bureau_breaks(work: Any) -> None:
        if work.name == "query" and not broken:
            broken.append(work.name)
            faults(error_rate=1)

    run = counter.run(BalancesAndArrears, by_card(WANG), before_work=bureau_breaks)
    assert broken and run.outcome.result is Result.FAILED, run.outcome
    assert run.outcome.retry and run.outcome.title == "query.error.offline.title"
    faults(error_rate=0)
    assert run.runner is not None
    run.runner.retry()
    out = run.runner.current
    assert out is not None and getattr(out, "result", None) is Result.INFO, out
    assert out.body == "balance.no_arrears"
    assert dict(out.facts)["balance.pension_total"] == yuan(Decimal(bureau(counter, "pension-account", WANG)["total"]))


def test_application_progress_timeline(counter):
    counter.insert(SUN[0])
    out = counter.run(ApplicationProgress, by_card(SUN)).outcome
    assert out.result is Result.INFO and out.name == "progress", out
    app = bureau(counter, "card-applications", SUN)["applications"][-1]
    reached = {s["stage"]: s["at"][:10] for s in app["stages"]}
    assert [(m.label, m.when, m.state) for m in out.timeline] == [
        ("progress.stage.submitted", reached["submitted"], "done"),
        ("progress.stage.approved", reached["approved"], "done"),
        ("progress.stage.sent_to_province", reached["sent_to_province"], "done"),
        ("progress.stage.printing_at_bank", reached["printing_at_bank"], "done"),
        ("progress.stage.ready_at_outlet", reached["ready_at_outlet"], "current"),
        ("progress.stage.collected", "", "pending")]
    assert out.body == "progress.ready_note"
    assert out.fields == {"outlet": app["outlet"]["name"], "address": app["outlet"]["address"],
                          "hours": app["outlet"].get("opening_hours") or "-"}


def test_no_application_is_information(counter):
    counter.insert(WANG[0])
    out = counter.run(ApplicationProgress, by_card(WANG)).outcome
    assert out.result is Result.INFO and out.name == "no_application", out
    assert (out.title, out.body, out.timeline) == ("progress.none.title", "progress.none.body", ())

