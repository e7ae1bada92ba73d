"""The citizen queries: contributions, pension paid, balances and arrears, card application
progress. Identification first (card + PIN, or ID number + face check), then one question to the
bureau in a Work step; the answer is an INFO outcome (nothing was asked of the bureau to change)
carrying a table, a timeline or facts. A failed query ends explained by the runner, with a retry
where trying again can help.

Values the screen must translate (paid/owed, "30 months", an insurance's name in a heading) are
`Text`: a str holding the message id, with the placeholders' values in `.fields`. The screen shows
`t(value, **value.fields)` for a Text, and any other str (amounts, months, dates) as it is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from kiosk.domain.masking import mask_account
from kiosk.flows.base import Identity, Next
from kiosk.flows.identify import Identify
from kiosk.flows.steps import AskChoice, Milestone, Option, Table, Text, Work, info
from kiosk.i18n.dates import from_iso
from kiosk.services import receipts
from kiosk.services.queries import (
    INSURANCES,
    STAGES,
    Application,
    Arrears,
    Balances,
    PaymentRecords,
    PensionPayments,
    recent_years,
    yuan,
)


# ---------------------------------------------------------------------------------- rules
def query_reference(kiosk_id: str, at: dt.datetime) -> str:
    """A query's reference on its summary receipt: the kiosk, then the moment to the second."""
    return f"{kiosk_id}-Q{at:%Y%m%d%H%M%S}"


def year_options(today: dt.date) -> tuple[Option, ...]:
    """The years a citizen may ask about: this one (by the kiosk's clock) and the three before."""
    return tuple(Option("records.year", y, fields={"year": y}) for y in recent_years(today))


def milestones(app: Application) -> tuple[Milestone, ...]:
    """An application's stages in order: done before the current one (and "collected" once it is
    reached), current, then pending; an unknown current stage counts as the first."""
    current = STAGES.index(app.current) if app.current in STAGES else 0

    def state(i: int, stage: str) -> str:
        if i < current or (i == current and stage == "collected"):
            return "done"
        return "current" if i == current else "pending"

    return tuple(Milestone(f"progress.stage.{s}", app.reached.get(s, ""), state(i, s)) for i, s in enumerate(STAGES))


def account_shown(account_masked: str) -> str:
    """A pension account as the bureau masked it; one that came unmasked is masked here."""
    return account_masked if "*" in account_masked else mask_account(account_masked)


# ---------------------------------------------------------------------------------- flows
class QueryFlow(Identify):
    """Identification, then questions to the bureau (`ask`), each one a Work with the query timeout."""

    def start(self) -> Next:
        return self.start_identify()

    @property
    def who(self) -> Identity:
        assert self.identity is not None, "asked before identification"
        return self.identity

    def ask(self, then: str, fn: Callable[[], Any]) -> Work:
        return Work(then=then, fn=fn, message="query.waiting", stage="result", name="query",
                    timeout_s=self.desk.settings.query_timeout_s + 5)

    def pick_year(self, prompt: str) -> AskChoice:
        return AskChoice(then="year", title=self.title, stage="year", prompt=prompt,
                         options=year_options(self.desk.now().date()), name="pick_year")


class ContributionRecords(QueryFlow):
    """Contributions of one insurance in one year: a table with the totals, a receipt on request."""

    service_id = "payment_records"
    title = "service.payment_records.title"
    STAGES = ("identify", "insurance", "year", "result")

    def identified(self, who: Identity) -> Next:
        return AskChoice(then="insurance", title=self.title, stage="insurance", prompt="records.pick_insurance",
                         options=tuple(Option(f"insurance.{k}", k) for k in INSURANCES), name="pick_insurance")

    def step_insurance(self, insurance: str) -> Next:
        self.insurance = insurance
        return self.pick_year("records.pick_year")

    def step_year(self, year: int) -> Next:
        who, insurance = self.who, self.insurance
        return self.ask("records", lambda: self.desk.queries.payment_records(who.id_number, who.assurance,
                                                                             insurance, year))

    def step_records(self, rec: PaymentRecords) -> Next:
        rows = tuple((r.month, yuan(r.base), yuan(r.employer), yuan(r.personal),
                      Text("records.paid") if r.paid else Text("records.owed")) for r in rec.rows)
        totals: list[tuple[str, str]] = [("records.total_employer", yuan(rec.total_employer)),
                                         ("records.total_personal", yuan(rec.total_personal))]
        if rec.months_paid_total is not None:
            totals.append(("records.months_total", Text("records.months", n=rec.months_paid_total)))
        table = Table(("records.col.month", "records.col.base", "records.col.employer", "records.col.personal",
                       "records.col.status"), rows, tuple(totals), year=rec.year,
                      flagged=tuple(not r.paid for r in rec.rows))
        return info("records.heading", "", table=table, receipt=lambda: self.receipt(rec), print_now=False,
                    fields={"insurance": Text(f"insurance.{rec.insurance}"), "year": rec.year}, name="records")

    def receipt(self, rec: PaymentRecords) -> receipts.ReceiptDocument:
        """The summary receipt: the months asked about, how many were paid, how many are owed."""
        months = [r.month for r in rec.rows]
        row = receipts.PaymentRow(rec.insurance, months[0] if months else "", months[-1] if months else "",
                                  sum(1 for r in rec.rows if r.paid), rec.owed_months)
        who = self.who
        return receipts.payment_records(self.desk.receipt_context(), id_number=who.id_number, name=who.name,
                                        reference=query_reference(self.desk.settings.kiosk_id, self.desk.now()),
                                        rows=[row])


class PensionReceived(QueryFlow):
    """The pension paid in one year, month by month; someone not retired is told so."""

    service_id = "pension_received"
    title = "service.pension_received.title"
    STAGES = ("identify", "year", "result")

    def identified(self, who: Identity) -> Next:
        return self.pick_year("pension.pick_year")

    def step_year(self, year: int) -> Next:
        who = self.who
        return self.ask("payments", lambda: self.desk.queries.pension_payments(who.id_number, who.assurance, year))

    def step_payments(self, res: PensionPayments) -> Next:
        if not res.retired:
            return info("pension.not_retired.title", "pension.not_retired.body", name="not_retired")
        rows = tuple((Text("date.shown", date=from_iso(p.month)), yuan(p.amount),
                      Text("date.shown", date=from_iso(p.paid_on)), p.bank, account_shown(p.account_masked))
                     for p in res.payments)
        table = Table(("records.col.month", "pension.col.amount", "pension.col.paid_on", "pension.col.bank",
                       "pension.col.account"), rows, (("pension.total", yuan(res.total)),))
        return info("pension.heading", "", table=table, fields={"year": res.year}, name="pension")


class BalancesAndArrears(QueryFlow):
    """The pension and medical accounts, and the contributions owed by insurance."""

    service_id = "balances"
    title = "service.balances.title"
    STAGES = ("identify", "result")

    def identified(self, who: Identity) -> Next:
        q = self.desk.queries
        return self.ask("answers", lambda: (q.balances(who.id_number, who.assurance),
                                            q.arrears(who.id_number, who.assurance)))

    def step_answers(self, answers: tuple[Balances, Arrears]) -> Next:
        bal, arrears = answers
        facts: list[tuple[str, str]] = [("balance.pension_total", yuan(bal.pension_total)),
                                        ("balance.pension_months", Text("records.months", n=bal.pension_months)),
                                        ("balance.medical", yuan(bal.medical_balance))]
        for ins in sorted({i.insurance for i in arrears.items}):
            owed = sum((i.amount for i in arrears.items if i.insurance == ins), start=arrears.total * 0)
            facts.append((f"insurance.{ins}", Text("balance.owed", amount=yuan(owed), since=from_iso(arrears.since(ins)))))
        body = "balance.arrears_body" if arrears.items else "balance.no_arrears"
        return info("balance.title", body, facts=tuple(facts), fields={"as_of": from_iso(bal.as_of), "total": yuan(arrears.total)})


class ApplicationProgress(QueryFlow):
    """Where the citizen's card application is: a timeline, and where to collect a card that is ready."""

    service_id = "application_progress"
    title = "service.application_progress.title"
    STAGES = ("identify", "result")

    def identified(self, who: Identity) -> Next:
        return self.ask("applications", lambda: self.desk.queries.applications(who.id_number, who.assurance))

    def step_applications(self, apps: list[Application]) -> Next:
        if not apps:
            return info("progress.none.title", "progress.none.body", name="no_application")
        app = apps[-1]
        note = "progress.ready_note" if app.current == "ready_at_outlet" else "progress.wait_note"
        return info("progress.heading", note, timeline=milestones(app), name="progress",
                    fields={"outlet": app.outlet_name, "address": app.outlet_address, "hours": app.outlet_hours or "-"})

