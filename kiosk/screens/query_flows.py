"""Citizen queries on the touch UI: contributions, pension paid, balances and arrears, card
application progress. Identification first (card + PIN, or ID number + face check where the
liveness flows provide it); every query runs on a worker behind a progress screen."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.domain.masking import mask_account
from kiosk.screens.card_flows import TakeCardScreen, identify_by_card, receipt_context
from kiosk.screens.common import Choice, ChoiceScreen, ResultScreen, Stage, TableScreen, TimelineScreen
from kiosk.screens.registry import face_identifier, flow
from kiosk.screens.steps import run_step, show_message
from kiosk.services.queries import INSURANCES, STAGES, Assurance, recent_years, yuan

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)

Identified = Callable[[str, str, Assurance, bool], None]  # id_number, name, assurance, card_in_reader


def identify(ui: UI, then: Identified) -> None:
    """Card + PIN, or (when the face flows are installed) ID number + liveness + the bureau's verdict."""
    face = face_identifier()
    health = ui.health

    def by_card() -> None:
        identify_by_card(ui, lambda ident, assurance: then(ident.holder.id_number, ident.holder.name, assurance, True))

    def by_face() -> None:
        assert face is not None  # offered only when the face flows are installed
        face(ui, then)

    reader_ok = "reader" in health and health["reader"].usable
    face_ok = face is not None and "camera" in health and health["camera"].usable
    if reader_ok and not face_ok:
        by_card()
        return
    if face_ok and not reader_ok:
        by_face()
        return
    ui.show(ChoiceScreen(ui, "identify.bar", "identify.prompt", [
        Choice("identify.card", "card", "identify.card_hint", reader_ok),
        Choice("identify.face", "face", "identify.face_hint", face_ok)],
        lambda how: by_card() if how == "card" else by_face(), name="identify"))


def query_step(ui: UI, fn: Callable[[], Any], on_ok: Callable[[Any], None], retry: Callable[[], None]) -> None:
    """A live query: progress, a timeout, and plain words when the bureau cannot be reached."""
    from kiosk.screens.steps import show_error

    timeout = ui.services.cfg["sync.query_timeout_s"] + 5
    run_step(ui, "query.waiting", fn, on_ok=on_ok, on_error=lambda e: show_error(ui, e, retry=retry),
             timeout_s=timeout, name="query")


def finish(ui: UI, card: bool) -> Callable[[], None]:
    def done() -> None:
        ui.sessions.end("finish")
        if card:
            ui.show(TakeCardScreen(ui))
        else:
            ui.go_home("finish")
    return done


def query_reference(ui: UI) -> str:
    return f"{ui.services.cfg['kiosk.id']}-Q{time.strftime('%Y%m%d%H%M%S')}"


def print_then(ui: UI, build: Callable[[], Any]) -> None:
    """Print a summary receipt from a result screen; the outcome is shown as a notice."""

    def done(outcome: Any) -> None:
        ui.toast = ("result.receipt_printed" if outcome.printed else outcome.reason_key,
                    ui.clock.monotonic() + 6)
        ui.back()

    run_step(ui, "receipt.printing", lambda: ui.services.printing.print_receipt(build()), on_ok=done,
             on_error=lambda e: ui.back(), timeout_s=30, name="print")


# ------------------------------------------------------------------------------ contributions
@flow("payment_records")
def payment_records(ui: UI) -> None:
    def identified(id_number: str, name: str, assurance: Assurance, card: bool) -> None:
        ui.show(ChoiceScreen(ui, "records.bar", "records.pick_insurance",
                             [Choice(f"insurance.{k}", k) for k in INSURANCES],
                             lambda ins: pick_year(id_number, name, assurance, card, ins), name="pick_insurance"),
                replace=True)

    def pick_year(id_number: str, name: str, assurance: Assurance, card: bool, insurance: str) -> None:
        years = recent_years(dt.date.today())
        ui.show(ChoiceScreen(ui, "records.bar", "records.pick_year",
                             [Choice("records.year", y, fields={"year": y}) for y in years],
                             lambda year: ask(id_number, name, assurance, card, insurance, year), name="pick_year"))

    def ask(id_number: str, name: str, assurance: Assurance, card: bool, insurance: str, year: int) -> None:
        query_step(ui, lambda: ui.services.queries.payment_records(id_number, assurance, insurance, year),
                   lambda rec: show(id_number, name, card, rec),
                   retry=lambda: ask(id_number, name, assurance, card, insurance, year))

    def show(id_number: str, name: str, card: bool, rec: Any) -> None:
        tr = ui.t
        rows = [(r.month, yuan(r.base), yuan(r.employer), yuan(r.personal),
                 tr("records.paid") if r.paid else tr("records.owed")) for r in rec.rows]
        totals = [("records.total_employer", yuan(rec.total_employer)),
                  ("records.total_personal", yuan(rec.total_personal))]
        if rec.months_paid_total is not None:
            totals.append(("records.months_total", tr("records.months", n=rec.months_paid_total)))

        def build() -> Any:
            from kiosk.services import receipts

            months = [r.month for r in rec.rows]
            row = receipts.PaymentRow(rec.insurance, months[0] if months else "", months[-1] if months else "",
                                      sum(1 for r in rec.rows if r.paid), rec.owed_months)
            return receipts.payment_records(receipt_context(ui), id_number=id_number, name=name,
                                            reference=query_reference(ui), rows=[row])

        screen = TableScreen(ui, "records.bar", "records.heading",
                             ["records.col.month", "records.col.base", "records.col.employer",
                              "records.col.personal", "records.col.status"], rows, totals,
                             on_print=lambda: print_then(ui, build), name="records",
                             insurance=tr(f"insurance.{rec.insurance}"), year=rec.year)
        screen.on_finish = finish(ui, card)
        ui.show(screen, replace=True)

    identify(ui, identified)


# ------------------------------------------------------------------------------ pension paid
@flow("pension_received")
def pension_received(ui: UI) -> None:
    def identified(id_number: str, name: str, assurance: Assurance, card: bool) -> None:
        years = recent_years(dt.date.today())
        ui.show(ChoiceScreen(ui, "pension.bar", "pension.pick_year",
                             [Choice("records.year", y, fields={"year": y}) for y in years],
                             lambda year: ask(id_number, assurance, card, year), name="pick_year"), replace=True)

    def ask(id_number: str, assurance: Assurance, card: bool, year: int) -> None:
        query_step(ui, lambda: ui.services.queries.pension_payments(id_number, assurance, year),
                   lambda res: show(card, res), retry=lambda: ask(id_number, assurance, card, year))

    def show(card: bool, res: Any) -> None:
        if not res.retired:
            show_message(ui, "pension.not_retired.title", "pension.not_retired.body", retry=None, kind="info")
            return
        rows = [(p.month, yuan(p.amount), p.paid_on, p.bank, mask_account(p.account_masked.replace("*", "0"))
                 if "*" not in p.account_masked else p.account_masked) for p in res.payments]
        ui.show(TableScreen(ui, "pension.bar", "pension.heading",
                            ["records.col.month", "pension.col.amount", "pension.col.paid_on", "pension.col.bank",
                             "pension.col.account"], rows, [("pension.total", yuan(res.total))],
                            name="pension", year=res.year), replace=True)

    identify(ui, identified)


# ------------------------------------------------------------------------------ balances and arrears
@flow("balances")
def balances(ui: UI) -> None:
    def identified(id_number: str, name: str, assurance: Assurance, card: bool) -> None:
        q = ui.services.queries
        query_step(ui, lambda: (q.balances(id_number, assurance), q.arrears(id_number, assurance)),
                   lambda res: show(card, *res), retry=lambda: identified(id_number, name, assurance, card))

    def show(card: bool, bal: Any, arrears: Any) -> None:
        facts = [("balance.pension_total", yuan(bal.pension_total)),
                 ("balance.pension_months", ui.t("records.months", n=bal.pension_months)),
                 ("balance.medical", yuan(bal.medical_balance))]
        if arrears.items:
            for ins in sorted({i.insurance for i in arrears.items}):
                owed = sum((i.amount for i in arrears.items if i.insurance == ins), start=arrears.total * 0)
                facts.append((f"insurance.{ins}", ui.t("balance.owed", amount=yuan(owed), since=arrears.since(ins))))
            body = "balance.arrears_body"
        else:
            body = "balance.no_arrears"
        ui.show(ResultScreen(ui, "balance.title", body, facts=facts, kind="info", on_finish=finish(ui, card),
                             as_of=bal.as_of, total=yuan(arrears.total)), replace=True)

    identify(ui, identified)


# ------------------------------------------------------------------------------ application progress
@flow("application_progress")
def application_progress(ui: UI) -> None:
    def identified(id_number: str, name: str, assurance: Assurance, card: bool) -> None:
        query_step(ui, lambda: ui.services.queries.applications(id_number, assurance),
                   lambda apps: show(card, apps), retry=lambda: identified(id_number, name, assurance, card))

    def show(card: bool, apps: list) -> None:
        if not apps:
            show_message(ui, "progress.none.title", "progress.none.body", retry=None, kind="info")
            return
        app = apps[-1]
        current = STAGES.index(app.current) if app.current in STAGES else 0
        stages = [Stage(f"progress.stage.{s}", app.reached.get(s, ""),
                        "done" if i < current or (i == current and s == "collected") else
                        "current" if i == current else "pending") for i, s in enumerate(STAGES)]
        ready = app.current == "ready_at_outlet"
        screen = TimelineScreen(ui, "progress.bar", "progress.heading", stages,
                                note="progress.ready_note" if ready else "progress.wait_note", name="progress",
                                outlet=app.outlet_name, address=app.outlet_address, hours=app.outlet_hours or "-")
        ui.show(screen, replace=True)
        screen.buttons[-1].on_press = finish(ui, card)

    identify(ui, identified)
