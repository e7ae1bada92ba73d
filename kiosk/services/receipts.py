"""What each citizen service puts on its receipt, as data: a small layout model (title, fields,
separators, QR code, notes) filled from the receipt catalogs. Putting it on paper: printing.py.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from kiosk.domain.masking import mask_account, mask_id, mask_name

LANGUAGES = ("zh_CN", "en")

# -- the layout model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Title:
    text: str


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Separator:
    char: str = "-"


@dataclass(frozen=True)
class Qr:
    data: str
    caption: str = ""


@dataclass(frozen=True)
class Note:
    text: str
    align: str = "left"


Block = Title | Field | Separator | Qr | Note


@dataclass(frozen=True)
class ReceiptDocument:
    """A receipt's content in order; holds masked values only.

    `kind` and `reference` are for logs and for the screen shown when printing fails.
    """

    blocks: tuple[Block, ...]
    kind: str = ""
    reference: str = ""
    lang: str = "zh_CN"

    @property
    def qr_payloads(self) -> tuple[str, ...]:
        return tuple(b.data for b in self.blocks if isinstance(b, Qr))

    @property
    def text(self) -> str:
        """Every string on the receipt, one per line (for tests and previews)."""
        out: list[str] = []
        for b in self.blocks:
            if isinstance(b, Field):
                out.append(f"{b.label}: {b.value}")
            elif isinstance(b, (Title, Note)):
                out.append(b.text)
            elif isinstance(b, Qr):
                out += [f"[qr {b.data}]", b.caption]
        return "\n".join(out)


# -- strings -----------------------------------------------------------------------------------


@cache
def catalog(lang: str) -> dict[str, str]:
    """kiosk/i18n/receipt_<lang>.toml, flattened to dotted keys (receipt.label.name ...)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    raw = resources.files("kiosk.i18n").joinpath(f"receipt_{lang}.toml").read_bytes()
    return _flatten(tomllib.loads(raw.decode("utf-8")))


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v)
    return out


def text(lang: str, key: str, **fields: object) -> str:
    """One receipt string; a missing key raises KeyError (tests check both catalogs match)."""
    s = catalog(lang)[key]
    return s.format(**fields) if fields else s


def money(cents: int, lang: str) -> str:
    """3500.00 元 / CNY 3,500.00: integer arithmetic, no float rounding on amounts."""
    sign, cents = ("-" if cents < 0 else ""), abs(cents)
    return text(lang, "receipt.money.format", amount=f"{sign}{cents // 100:,}.{cents % 100:02d}")


# -- the facts every receipt carries ---------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptContext:
    """Who printed the receipt and when: the same for every receipt of a session."""

    bureau: str
    kiosk_id: str
    when: datetime  # local time
    lang: str = "zh_CN"

    @classmethod
    def from_config(
        cls, cfg: Any, lang: str = "zh_CN", when: datetime | None = None
    ) -> ReceiptContext:
        return cls(cfg["kiosk.bureau_name"], cfg["kiosk.id"], when or datetime.now(), lang)


class Verdict(StrEnum):
    PASSED = "passed"
    NOT_PASSED = "not_passed"
    QUEUED = "queued"  # submitted offline: the bureau judges later


@dataclass(frozen=True)
class PaymentRow:
    """Contribution record summary of one insurance kind; months as YYYY-MM."""

    insurance: str  # pension | medical | unemployment | work_injury | maternity
    first: str
    last: str
    months: int
    arrears_months: int = 0


_VERDICT_NOTES = {Verdict.QUEUED: ["receipt.note.queued"],
                  Verdict.NOT_PASSED: ["receipt.note.not_passed"]}


def _document(
    ctx: ReceiptContext, kind: str, service: str, reference: str, result: str,
    id_number: str | None, name: str | None,
    extra: Sequence[Block] = (), notes: Sequence[str] = (),
) -> ReceiptDocument:
    """The common frame; identity is masked here, so a document never holds it in full."""
    def t(key, **kw):
        return text(ctx.lang, key, **kw)
    blocks: list[Block] = [Title(ctx.bureau), Separator(),
                           Field(t("receipt.label.service"), service)]
    if name is not None:
        blocks.append(Field(t("receipt.label.name"), mask_name(name)))
    if id_number is not None:
        blocks.append(Field(t("receipt.label.id"), mask_id(id_number)))
    blocks.append(Field(t("receipt.label.result"), result))
    blocks += extra
    blocks += [Field(t("receipt.label.reference"), reference), Separator(),
               Qr(reference, t("receipt.label.scan"))]
    blocks += [Note(n) for n in notes]
    blocks += [Separator(), Field(t("receipt.label.kiosk"), ctx.kiosk_id),
               Field(t("receipt.label.time"), ctx.when.strftime("%Y-%m-%d %H:%M")),
               Note(t("receipt.label.keep"), "center")]
    return ReceiptDocument(tuple(blocks), kind, reference, ctx.lang)


# -- one builder per citizen service ------------------------------------------------------------


def pension_auth(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str, verdict: Verdict,
    family: bool = False, valid_until: date | None = None,
) -> ReceiptDocument:
    """Pension eligibility authentication (for oneself or a family member)."""
    L = ctx.lang
    extra: list[Block] = []
    if verdict is Verdict.PASSED and valid_until is not None:
        extra.append(Field(text(L, "receipt.label.valid_until"), valid_until.isoformat()))
    notes = _VERDICT_NOTES
    return _document(
        ctx, "family_auth" if family else "pension_auth",
        text(L, "receipt.service.family_auth" if family else "receipt.service.pension_auth"),
        reference, text(L, f"receipt.result.{verdict.value}"), id_number, name, extra,
        [text(L, k) for k in notes.get(verdict, [])],
    )


def annual_review(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str, verdict: Verdict,
) -> ReceiptDocument:
    """Annual card review (年审)."""
    L = ctx.lang
    result = {Verdict.PASSED: "review_passed", Verdict.NOT_PASSED: "review_not_passed",
              Verdict.QUEUED: "queued"}[verdict]
    notes = _VERDICT_NOTES
    return _document(ctx, "annual_review", text(L, "receipt.service.annual_review"), reference,
                     text(L, f"receipt.result.{result}"), id_number, name, (),
                     [text(L, k) for k in notes.get(verdict, [])])


def card_activation(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str
) -> ReceiptDocument:
    """A new card activated; the PIN set on the way is never printed."""
    L = ctx.lang
    return _document(ctx, "card_activation", text(L, "receipt.service.card_activation"), reference,
                     text(L, "receipt.result.activated"), id_number, name, (),
                     [text(L, "receipt.note.pin")])


def pin_changed(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str, reset: bool = False,
) -> ReceiptDocument:
    """PIN changed, or reset after a face check. The function takes no PIN: none can leak."""
    L = ctx.lang
    which = "pin_reset" if reset else "pin_changed"
    return _document(ctx, which, text(L, f"receipt.service.{which}"), reference,
                     text(L, f"receipt.result.{which}"), id_number, name, (),
                     [text(L, "receipt.note.pin")])


def card_loss(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str, expires: date | str,
    queued: bool = False,
) -> ReceiptDocument:
    """Temporary loss report: when it ends and how to undo it; offline, that it is not in force.
    `expires` is the date the report lapses or, when the kiosk cannot know that date (its clock
    is not trusted, or the bureau has not received the report yet), the words that say when."""
    L = ctx.lang
    notes = ["receipt.note.loss_queued"] if queued else []
    until = expires.isoformat() if isinstance(expires, date) else expires
    return _document(
        ctx, "card_loss", text(L, "receipt.service.card_loss"), reference,
        text(L, "receipt.result.loss_queued" if queued else "receipt.result.loss_reported"),
        id_number, name, [Field(text(L, "receipt.label.expires"), until)],
        [text(L, k) for k in [*notes, "receipt.note.loss_expiry"]],
    )


def card_application(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str, outlet: str,
    queued: bool = False,
) -> ReceiptDocument:
    """Card application: where to collect the card and how to follow its progress."""
    L = ctx.lang
    notes = (["receipt.note.queued"] if queued else []) + ["receipt.note.application_progress"]
    return _document(
        ctx, "card_application", text(L, "receipt.service.card_application"), reference,
        text(L, "receipt.result.application_queued" if queued
             else "receipt.result.application_submitted"),
        id_number, name, [Field(text(L, "receipt.label.outlet"), outlet)],
        [text(L, k) for k in notes],
    )


def payment_records(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str, rows: Sequence[PaymentRow],
) -> ReceiptDocument:
    """Contribution records: per insurance kind, the period paid and the months in it."""
    L = ctx.lang
    extra: list[Block] = [Separator()]
    for r in rows:
        value = text(L, "receipt.note.payment_row", first=r.first, last=r.last, months=r.months)
        extra.append(Field(text(L, f"receipt.insurance.{r.insurance}"), value))
        if r.arrears_months:
            extra.append(Note(text(L, "receipt.note.payment_arrears", months=r.arrears_months),
                              "right"))
    extra.append(Separator())
    return _document(ctx, "payment_records", text(L, "receipt.service.payment_records"),
                     reference, text(L, "receipt.result.query_done"), id_number, name, extra,
                     [text(L, "receipt.note.query_reference")])


def pension_payments(
    ctx: ReceiptContext, *, id_number: str, name: str, reference: str, bank: str, account: str,
    first: str, last: str, months: int, total_cents: int, last_month: str, last_cents: int,
) -> ReceiptDocument:
    """Pension payments received: bank, masked account, period, months, total, latest payment."""
    L = ctx.lang
    def f(key, value):
        return Field(text(L, f"receipt.label.{key}"), value)
    extra: list[Block] = [
        Separator(), f("bank", bank), f("account", mask_account(account)),
        f("period", f"{first} - {last}"),
        f("months", text(L, "receipt.note.months", months=months)),
        f("total", money(total_cents, L)),
        f("last_payment", text(L, "receipt.note.last_payment", month=last_month,
                               amount=money(last_cents, L))),
        Separator(),
    ]
    return _document(ctx, "pension_payments", text(L, "receipt.service.pension_payments"),
                     reference, text(L, "receipt.result.query_done"), id_number, name, extra,
                     [text(L, "receipt.note.query_reference")])


def printer_test(
    ctx: ReceiptContext, *, reference: str, mode: str, paper_mm: int
) -> ReceiptDocument:
    """The technician's test receipt: no citizen on it, a character test and a QR code."""
    L = ctx.lang
    extra = [Field(text(L, "receipt.label.mode"), text(L, f"receipt.note.mode_{mode}")),
             Field(text(L, "receipt.label.paper"), text(L, "receipt.note.paper", mm=paper_mm))]
    return _document(ctx, "test", text(L, "receipt.service.test"), reference,
                     text(L, "receipt.result.test_ok"), None, None, extra,
                     [text(L, "receipt.note.test")])


def service_receipt(
    *, bureau: str, service: str, id_number: str, name: str, result: str, reference: str,
    kiosk_id: str, when: datetime, lang: str = "zh_CN", note: str = "",
) -> ReceiptDocument:
    """A receipt for a service without a builder of its own (strings already translated)."""
    ctx = ReceiptContext(bureau, kiosk_id, when, lang)
    return _document(ctx, "service", service, reference, result, id_number, name, (),
                     [note] if note else [])
