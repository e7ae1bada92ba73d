"""Query answers computed from a persona, the simulator's date and accepted submissions.

Rules (so tests can predict every number):
- monthly base in year Y = payment_base x 1.04^(Y - payment_base_year), rounded to the yuan;
- rates (employer, personal): pension 16 %/8 %, medical 9.5 %/2 %, unemployment 0.5 %/0.5 %,
  work injury 0.4 %/0, maternity 0.8 %/0; amounts rounded half-up to the fen;
- insured months run from insured_since to the month before retired_since (or the as-of month);
  months in owed_months are `owed`, the rest `paid`;
- pension: pension_monthly x 1.03^(Y - retirement year), paid on the 10th;
- pension account interest: 3 % a year, simple, on each personal contribution;
- medical account spending in a year: a fraction 0-69 % of that year's credit, seeded by
  SHA-256 of "<id_number>:<year>".
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .personas import Persona, Personas, mask_name

CENT = Decimal("0.01")
RATES: dict[str, tuple[Decimal, Decimal]] = {
    "pension": (Decimal("0.16"), Decimal("0.08")),
    "medical": (Decimal("0.095"), Decimal("0.02")),
    "unemployment": (Decimal("0.005"), Decimal("0.005")),
    "work_injury": (Decimal("0.004"), Decimal("0")),
    "maternity": (Decimal("0.008"), Decimal("0")),
}
RETIREE_MEDICAL_CREDIT = Decimal("100.00")  # per month, paid into a retiree's medical account
BUREAU_STATUS = {
    "active": "active",
    "new_unactivated": "not_activated",
    "pin_blocked": "active",  # PIN state lives on the chip
    "mute": "active",
    "expired": "expired",
    "reported_lost": "reported_lost",
    "bank_only": "none",
}


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _month(text: str) -> tuple[int, int]:
    year, month = text.split("-")
    return int(year), int(month)


def _month_text(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _months(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    out, (y, m) = [], first
    while (y, m) <= last:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


class Answers:
    """One instance per simulator; `today` is fixed at start so answers stay predictable."""

    def __init__(self, personas: Personas, today: dt.date) -> None:
        self.personas = personas
        self.today = today

    def base(self, persona: Persona, year: int) -> Decimal:
        factor = Decimal("1.04") ** (year - self.personas.payment_base_year)
        return (persona.payment_base * factor).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    def insured_months(self, persona: Persona) -> list[tuple[int, int]]:
        last = (self.today.year, self.today.month)
        if persona.retired and persona.retired_since:
            last = min(last, _previous(*_month(persona.retired_since)))
        return _months(_month(persona.insured_since), last)

    def _amounts(self, persona: Persona, kind: str, year: int) -> tuple[Decimal, Decimal, Decimal]:
        base = self.base(persona, year)
        employer, personal = RATES[kind]
        return base, (base * employer).quantize(CENT, ROUND_HALF_UP), (
            base * personal
        ).quantize(CENT, ROUND_HALF_UP)

    def payment_records(self, persona: Persona, kind: str, year: int) -> dict[str, Any]:
        rows, total_e, total_p = [], Decimal(0), Decimal(0)
        for y, m in self.insured_months(persona):
            if y != year:
                continue
            base, employer, personal = self._amounts(persona, kind, y)
            month = _month_text(y, m)
            status = "owed" if month in persona.owed_months else "paid"
            if status == "paid":
                total_e, total_p = total_e + employer, total_p + personal
            rows.append(
                {"month": month, "base": money(base), "employer_amount": money(employer),
                 "personal_amount": money(personal), "status": status}
            )
        return {"insurance": kind, "year": year, "rows": rows,
                "total_employer": money(total_e), "total_personal": money(total_p)}

    def payment_base(self, persona: Persona) -> dict[str, Any]:
        months = self.insured_months(persona)
        paid = [m for m in months if _month_text(*m) not in persona.owed_months]
        last_year = months[-1][0] if months else self.today.year
        if persona.retired:
            status, last = "retired", _month_text(*months[-1]) if months else None
        elif persona.owed_months and _month_text(*months[-1]) in persona.owed_months:
            status, last = "suspended", _month_text(*paid[-1]) if paid else None
        else:
            status, last = "paying", None
        periods = [
            {"insurance": kind, "status": status, "base": money(self.base(persona, last_year)),
             "first_month": persona.insured_since, "last_month": last, "months_paid": len(paid)}
            for kind in RATES
        ]
        return {"as_of": self.today.isoformat(), "periods": periods}

    def arrears(self, persona: Persona) -> dict[str, Any]:
        items, total = [], Decimal(0)
        for month in sorted(persona.owed_months):
            year = _month(month)[0]
            for kind in RATES:
                _, employer, personal = self._amounts(persona, kind, year)
                if employer + personal > 0:
                    items.append({"insurance": kind, "month": month,
                                  "amount": money(employer + personal)})
                    total += employer + personal
        return {"as_of": self.today.isoformat(), "total": money(total), "items": items}

    def pension_payments(self, persona: Persona, year: int) -> dict[str, Any]:
        payments, total = [], Decimal(0)
        if persona.retired and persona.retired_since and persona.pension_monthly is not None:
            start = _month(persona.retired_since)
            factor = Decimal("1.03") ** (year - start[0])
            amount = (persona.pension_monthly * factor).quantize(CENT, ROUND_HALF_UP)
            account = persona.card.bank_account
            for y, m in _months(max(start, (year, 1)), (year, 12)):
                paid_on = dt.date(y, m, 10)
                if paid_on > self.today:
                    break
                payments.append(
                    {"month": _month_text(y, m), "amount": money(amount),
                     "paid_on": paid_on.isoformat(), "bank": persona.card.bank,
                     "account_masked": account[:4] + "*" * (len(account) - 8) + account[-4:]}
                )
                total += amount
        return {"year": year, "retired": persona.retired, "payments": payments,
                "total": money(total)}

    def pension_account(self, persona: Persona) -> dict[str, Any]:
        contributions, interest, count = Decimal(0), Decimal(0), 0
        now = self.today.year * 12 + self.today.month
        for y, m in self.insured_months(persona):
            if _month_text(y, m) in persona.owed_months:
                continue
            personal = self._amounts(persona, "pension", y)[2]
            contributions += personal
            interest += personal * Decimal("0.03") * Decimal(now - (y * 12 + m)) / 12
            count += 1
        interest = interest.quantize(CENT, ROUND_HALF_UP)
        return {"as_of": self.today.isoformat(), "total": money(contributions + interest),
                "contributions": money(contributions), "interest": money(interest),
                "months_contributed": count}

    def _medical_credit(
        self, persona: Persona, year: int, months: list[tuple[int, int]]
    ) -> Decimal:
        credit = Decimal(0)
        for y, m in months:
            if y == year and _month_text(y, m) not in persona.owed_months:
                credit += self._amounts(persona, "medical", y)[2]
        if persona.retired and persona.retired_since:
            last = (year, 12) if year < self.today.year else (year, self.today.month)
            paid = _months(max(_month(persona.retired_since), (year, 1)), last)
            credit += RETIREE_MEDICAL_CREDIT * len(paid)
        return credit

    def _medical_spent(self, persona: Persona, year: int, credit: Decimal) -> Decimal:
        seed = hashlib.sha256(f"{persona.id_number}:{year}".encode()).digest()
        return (credit * Decimal(seed[0] % 70) / 100).quantize(CENT, ROUND_HALF_UP)

    def medical_account(self, persona: Persona) -> dict[str, Any]:
        balance = persona.medical_balance_start
        first_year = _month(persona.insured_since)[0]
        credited = spent = Decimal(0)
        months = self.insured_months(persona)
        for year in range(first_year, self.today.year + 1):
            credited = self._medical_credit(persona, year, months)
            spent = self._medical_spent(persona, year, credited)
            balance += credited - spent
        return {"as_of": self.today.isoformat(), "balance": money(balance),
                "credited_this_year": money(credited), "spent_this_year": money(spent)}

    def card_status(self, persona: Persona, events: list[dict[str, Any]]) -> dict[str, Any]:
        card = persona.card
        status = persona.bureau_card_status or BUREAU_STATUS.get(card.status, "active")
        lost_at = card.reported_lost_at
        for event in events:  # oldest first: the newest submission decides
            if event["kind"] == "card_loss_report":
                status, lost_at = "reported_lost", event["created_at"]
            elif event["kind"] == "card_activation" and status == "not_activated":
                status = "active"
        if status == "none":
            return {"status": "none", "generation": None, "issued_on": None,
                    "expires_on": None, "reported_lost_at": None}
        if status == "active" and dt.date.fromisoformat(card.expires_on) < self.today:
            status = "expired"
        return {"status": status, "generation": card.generation,
                "card_number_masked": card.number[:2] + "*" * 5 + card.number[-2:],
                "issued_on": card.issued_on, "expires_on": card.expires_on,
                "reported_lost_at": lost_at if status == "reported_lost" else None,
                "bank": card.bank}

    def card_applications(self, persona: Persona) -> dict[str, Any]:
        apps = []
        for app in reversed(persona.applications):
            outlet = self.personas.outlet(app.outlet_id)
            apps.append(
                {"application_id": app.application_id, "reason": app.reason,
                 "current_stage": app.stages[-1][0],
                 "stages": [{"stage": s, "at": at} for s, at in app.stages],
                 "outlet": outlet}
            )
        return {"applications": apps}

    def family_members(self, persona: Persona, certified: set[str],
                       family: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """`family`: the account as it is now (members added and removed), else the persona's."""
        members = []
        for id_number, relation in persona.family if family is None else family:
            member = self.personas.citizens[id_number]
            members.append(
                {"id_number": id_number, "name": member.name, "name_masked": mask_name(member.name),
                 "relation": relation,
                 "retired": member.retired,
                 "certification_due": member.retired and id_number not in certified}
            )
        return {"members": members}
