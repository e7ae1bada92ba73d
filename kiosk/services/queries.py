"""Citizen queries (payments, pension, balances, arrears, card application progress) asked of the
bureau through the sync daemon. Answers are checked and turned into plain values; every failure
becomes a QueryFailed carrying the message id that tells the citizen what to do instead."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

log = logging.getLogger(__name__)

INSURANCES = ("pension", "medical", "unemployment", "work_injury", "maternity")
STAGES = ("submitted", "approved", "sent_to_province", "printing_at_bank", "ready_at_outlet", "collected")
_MONEY = re.compile(r"^-?\d{1,12}\.\d{2}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

Query = Callable[[str, dict, float], dict]  # (kind, body, timeout) -> answer; SyncClient.query


class QueryFailed(Exception):
    """reason is a message id: query.error.offline / identity / not_found / garbage / refused."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Assurance:
    """How the citizen proved who they are: the card, its PIN and the card's proof that it is
    genuine (docs/card-authentication.md), or a face-match verdict."""

    method: str  # card_pin | face_match | ecard_qr
    card_number: str = ""
    verification_id: str = ""
    card_auth_id: str = ""  # online: the bureau verified the card's cryptogram over its challenge
    card_challenge: str = ""  # offline: the kiosk's challenge and the card's answer (hex), which
    card_cryptogram: str = ""  # the bureau verifies when the submission arrives

    def to_json(self) -> dict[str, Any]:
        if self.method == "card_pin":
            out: dict[str, Any] = {"method": "card_pin", "card_number": self.card_number}
            if self.card_auth_id:
                out["card_auth_id"] = self.card_auth_id
            elif self.card_challenge:
                out["card_auth"] = {"challenge": self.card_challenge, "cryptogram": self.card_cryptogram}
            return out
        if self.method == "ecard_qr":
            return {"method": "ecard_qr", "verification_id": self.verification_id}
        return {"method": "face_match", "verification_id": self.verification_id}


def money(text: Any) -> Decimal:
    if not isinstance(text, str) or not _MONEY.match(text):
        raise QueryFailed("query.error.garbage", f"bad amount {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise QueryFailed("query.error.garbage", f"bad amount {text!r}") from None


def yuan(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _month(text: Any) -> str:
    if not isinstance(text, str) or not _MONTH.match(text):
        raise QueryFailed("query.error.garbage", f"bad month {text!r}")
    return text


@dataclass(frozen=True)
class PaymentRow:
    month: str
    base: Decimal
    employer: Decimal
    personal: Decimal
    paid: bool


@dataclass(frozen=True)
class PaymentRecords:
    insurance: str
    year: int
    rows: tuple[PaymentRow, ...]
    total_employer: Decimal
    total_personal: Decimal
    months_paid_total: int | None = None  # the payment period so far, from payment-base

    @property
    def owed_months(self) -> int:
        return sum(1 for r in self.rows if not r.paid)


@dataclass(frozen=True)
class PensionPayment:
    month: str
    amount: Decimal
    paid_on: str
    bank: str
    account_masked: str


@dataclass(frozen=True)
class PensionPayments:
    year: int
    retired: bool
    payments: tuple[PensionPayment, ...]
    total: Decimal


@dataclass(frozen=True)
class Balances:
    pension_total: Decimal
    pension_months: int
    medical_balance: Decimal
    as_of: str


@dataclass(frozen=True)
class ArrearsItem:
    insurance: str
    month: str
    amount: Decimal


@dataclass(frozen=True)
class Arrears:
    total: Decimal
    items: tuple[ArrearsItem, ...]
    as_of: str

    def since(self, insurance: str) -> str:
        months = sorted(i.month for i in self.items if i.insurance == insurance)
        return months[0] if months else ""


@dataclass(frozen=True)
class Application:
    application_id: str
    current: str
    reached: dict[str, str]  # stage -> date
    outlet_name: str
    outlet_address: str
    outlet_hours: str


REJECTION_REASONS = {"assurance_invalid": "query.error.identity", "citizen_not_found": "query.error.not_found",
                     "not_found": "query.error.not_found"}


def ask(query: Query, kind: str, body: dict, timeout_s: float) -> dict:
    """One question to the bureau through the daemon; every failure becomes a QueryFailed."""
    from kiosk.sync.client import BureauGarbage, BureauRejected, BureauUnreachable

    try:
        answer = query(kind, body, timeout_s)
    except BureauUnreachable as exc:
        raise QueryFailed("query.error.offline", str(exc)) from None
    except BureauRejected as exc:
        code = getattr(exc, "code", "")
        raise QueryFailed(REJECTION_REASONS.get(code, "query.error.refused"), code) from None
    except BureauGarbage as exc:
        raise QueryFailed("query.error.garbage", str(exc)) from None
    if not isinstance(answer, dict):
        raise QueryFailed("query.error.garbage", "answer is not an object")
    return answer


class QueryService:
    def __init__(self, query: Query, timeout_s: float = 10.0) -> None:
        self._query, self.timeout_s = query, timeout_s

    def _ask(self, kind: str, body: dict) -> dict:
        answer = ask(self._query, kind, body, self.timeout_s)
        log.info("event=query kind=%s ok=1", kind)
        return answer

    @staticmethod
    def _body(id_number: str, assurance: Assurance, **extra: Any) -> dict:
        return {"id_number": id_number, "assurance": assurance.to_json(), **extra}

    def payment_records(self, id_number: str, assurance: Assurance, insurance: str, year: int) -> PaymentRecords:
        a = self._ask("payment_records", self._body(id_number, assurance, insurance=insurance, year=year))
        try:
            rows = tuple(PaymentRow(_month(r["month"]), money(r["base"]), money(r["employer_amount"]),
                                    money(r["personal_amount"]), r["status"] == "paid") for r in a["rows"])
            period = None
            try:
                base = self._ask("payment_base", self._body(id_number, assurance))
                period = next((p["months_paid"] for p in base["periods"] if p["insurance"] == insurance), None)
            except QueryFailed:
                pass  # the table is still worth showing without the period
            return PaymentRecords(insurance, year, rows, money(a["total_employer"]), money(a["total_personal"]),
                                  period)
        except (KeyError, TypeError) as exc:
            raise QueryFailed("query.error.garbage", repr(exc)) from None

    def pension_payments(self, id_number: str, assurance: Assurance, year: int) -> PensionPayments:
        a = self._ask("pension_payments", self._body(id_number, assurance, year=year))
        try:
            pays = tuple(PensionPayment(_month(p["month"]), money(p["amount"]), str(p["paid_on"]), str(p["bank"]),
                                        str(p["account_masked"])) for p in a["payments"])
            if any("*" not in p.account_masked for p in pays):
                raise QueryFailed("query.error.garbage", "unmasked account")
            return PensionPayments(int(a["year"]), bool(a["retired"]), pays, money(a["total"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise QueryFailed("query.error.garbage", repr(exc)) from None

    def balances(self, id_number: str, assurance: Assurance) -> Balances:
        p = self._ask("pension_account", self._body(id_number, assurance))
        m = self._ask("medical_account", self._body(id_number, assurance))
        try:
            return Balances(money(p["total"]), int(p["months_contributed"]), money(m["balance"]), str(m["as_of"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise QueryFailed("query.error.garbage", repr(exc)) from None

    def arrears(self, id_number: str, assurance: Assurance) -> Arrears:
        a = self._ask("arrears", self._body(id_number, assurance))
        try:
            items = tuple(ArrearsItem(str(i["insurance"]), _month(i["month"]), money(i["amount"])) for i in a["items"])
            return Arrears(money(a["total"]), items, str(a["as_of"]))
        except (KeyError, TypeError) as exc:
            raise QueryFailed("query.error.garbage", repr(exc)) from None

    def card_status(self, id_number: str, assurance: Assurance) -> str:
        a = self._ask("card_status", self._body(id_number, assurance))
        status = a.get("status")
        if status not in ("active", "not_activated", "reported_lost", "blocked", "expired", "cancelled", "none"):
            raise QueryFailed("query.error.garbage", f"card status {status!r}")
        return status

    def applications(self, id_number: str, assurance: Assurance) -> list[Application]:
        a = self._ask("card_applications", self._body(id_number, assurance))
        out = []
        try:
            for app in a["applications"]:
                reached = {s["stage"]: str(s["at"])[:10] for s in app["stages"] if s["stage"] in STAGES}
                outlet = app["outlet"]
                out.append(Application(str(app["application_id"]), str(app["current_stage"]), reached,
                                       str(outlet["name"]), str(outlet["address"]),
                                       str(outlet.get("opening_hours", ""))))
        except (KeyError, TypeError) as exc:
            raise QueryFailed("query.error.garbage", repr(exc)) from None
        return out

    def ecard_sign_in(self, token: str) -> dict[str, Any]:
        """The bureau's sign-in for an e-card QR token: {verification_id, id_number, name,
        expires_in_s}. A refusal is QueryFailed("query.error.refused", <the Problem code>)."""
        a = self._ask("ecard_sign_in", {"token": token})
        try:
            vid, citizen, expires = a["verification_id"], a["citizen"], a["expires_in_s"]
            id_number, name = citizen["id_number"], citizen["name"]
        except (KeyError, TypeError) as exc:
            raise QueryFailed("query.error.garbage", repr(exc)) from None
        if not (isinstance(vid, str) and _EV.match(vid) and isinstance(id_number, str) and isinstance(name, str)
                and name and type(expires) is int and expires > 0):
            raise QueryFailed("query.error.garbage", "e-card sign-in does not fit ECardSignIn")
        return {"verification_id": vid, "id_number": id_number, "name": name, "expires_in_s": expires}


_EV = re.compile(r"^EV-[0-9A-F]{16}$")


def recent_years(today: dt.date, count: int = 4) -> list[int]:
    return [today.year - i for i in range(count)]
