"""Print the participation certificate (参保证明): identification, the insurances (all of them by
default, or one), the period (the last 12 months by default), the certificate from the bureau,
printed on the receipt printer with its verification code, then a short summary on screen.

Online only: the certificate is the bureau's document under a code it mints, so the home offers
it only while the bureau can be reached, and a bureau gone mid-flow ends in the runner's plain
"cannot reach the bureau" with a retry. A printer that fails (out of paper, say) leaves the
certificate issued: the citizen may try again once staff have seen to the printer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kiosk.flows.base import Identity, Next
from kiosk.flows.identify import Identify
from kiosk.flows.steps import AskChoice, AskConfirm, Option, Table, Text, Work, done, failed
from kiosk.i18n.dates import from_iso
from kiosk.services.queries import INSURANCES

if TYPE_CHECKING:
    from kiosk.services.certificate import ParticipationCertificate
    from kiosk.services.printing import PrintOutcome

ALL = "all"
PERIODS = ("last_12", "this_year", "last_year", "since_first")  # the first is the default
PRINT_TIMEOUT_S = 45.0  # a long certificate in raster mode, on a slow serial printer


# ---------------------------------------------------------------------------------- rules
def month(year: int, number: int) -> str:
    return f"{year:04d}-{number:02d}"


def period_months(period: str, today: dt.date, first: str = "") -> tuple[str, str]:
    """The months (from, to) of a period by the kiosk's date; `first` is the first month of
    contributions, for since_first."""
    this = month(today.year, today.month)
    if period == "last_12":
        back = today.year * 12 + today.month - 1 - 11
        return month(back // 12, back % 12 + 1), this
    if period == "this_year":
        return month(today.year, 1), this
    if period == "last_year":
        return month(today.year - 1, 1), month(today.year - 1, 12)
    if period == "since_first":
        return first, this
    raise ValueError(f"unknown period {period!r}")


def insurance_options() -> tuple[Option, ...]:
    return (Option("certificate.insurance.all", ALL, "certificate.insurance.all_hint"),
            *(Option(f"insurance.{k}", k) for k in INSURANCES))


def period_options(today: dt.date) -> tuple[Option, ...]:
    def hint(period: str) -> tuple[str, dict[str, object]]:
        if period == "since_first":
            return "certificate.period.since_first_hint", {}
        first, last = period_months(period, today)
        return "certificate.period.range", {"first": from_iso(first), "last": from_iso(last)}

    return tuple(Option(f"certificate.period.{p}", p, hint(p)[0], fields=hint(p)[1]) for p in PERIODS)


def summary(cert: ParticipationCertificate) -> Table:
    """What was printed, in short: months paid and owed per insurance, the period, the code."""
    rows = tuple((Text(f"insurance.{r.insurance}"), Text("records.months", n=r.months_paid),
                  Text("records.months", n=r.months_owed) if r.months_owed else Text("certificate.none_owed")) for r in cert.rows)
    return Table(("certificate.col.insurance", "certificate.col.paid", "certificate.col.owed"), rows,
                 (("certificate.period.label", Text("certificate.period.range", first=from_iso(cert.first), last=from_iso(cert.last))),
                  ("certificate.code", cert.code)))


def not_printed_body(outcome: PrintOutcome) -> str:
    key = outcome.reason_key.rsplit(".", 1)[-1]
    return f"certificate.not_printed.{key if key in ('paper_out', 'paper_out_partial') else 'fault'}"


# ---------------------------------------------------------------------------------- the flow
class ParticipationCertificateFlow(Identify):
    service_id = "participation_certificate"
    title = "service.participation_certificate.title"
    STAGES = ("identify", "insurances", "period", "print")

    def start(self) -> Next:
        return self.start_identify()

    def identified(self, who: Identity) -> Next:
        self.who = who
        return AskChoice(then="insurances", title=self.title, stage="insurances", prompt="certificate.insurance.prompt",
                         options=insurance_options(), name="pick_insurances")

    def step_insurances(self, choice: str) -> Next:
        self.insurances: tuple[str, ...] = INSURANCES if choice == ALL else (choice,)
        return AskChoice(then="period", title=self.title, stage="period", prompt="certificate.period.prompt",
                         options=period_options(self.desk.now().date()), name="pick_period")

    def step_period(self, period: str) -> Next:
        who, kinds, today = self.who, self.insurances, self.desk.now().date()

        def issue() -> ParticipationCertificate:
            first = self.desk.first_insured_month(who.id_number, who.assurance, kinds) if period == "since_first" else ""
            start, end = period_months(period, today, first)
            return self.desk.participation_certificate(who.id_number, who.assurance, kinds, start, end)

        return Work(then="issued", fn=issue, message="certificate.fetching", stage="print", name="certificate",
                    timeout_s=2 * self.desk.settings.query_timeout_s + 5)

    def step_issued(self, cert: ParticipationCertificate) -> Next:
        self.cert = cert
        return self.print_certificate()

    def print_certificate(self) -> Work:
        from kiosk.services.certificate import document

        cert = self.cert
        return Work(then="printed", fn=lambda: self.desk.print_receipt(document(self.desk.receipt_context(), cert)),
                    message="certificate.printing", stage="print", name="print_certificate",
                    timeout_s=PRINT_TIMEOUT_S)

    def step_printed(self, outcome: PrintOutcome) -> Next:
        if outcome.printed:
            return done("certificate.done", "", table=summary(self.cert), name="certificate")
        if outcome.reason_key.endswith("not_installed"):
            return failed("certificate.no_printer.title", "certificate.no_printer.body", name="no_printer")
        # The certificate is issued and kept by the bureau: printing it again needs nothing else.
        return AskConfirm(then="print_again", title="certificate.not_printed.title", body=not_printed_body(outcome),
                          yes="nav.try_again", name="certificate_not_printed", back=False, stage="print")

    def step_print_again(self, _yes: bool) -> Next:
        return self.print_certificate()
