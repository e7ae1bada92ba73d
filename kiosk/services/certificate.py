"""The participation certificate (参保证明, docs/bureau-api.yaml tag certificates): asked of the
bureau through the sync daemon, checked against the contract, and laid out for the receipt printer
with its verification code in words and a QR code of the bureau's verification URL.

What the paper shows (decided here, once): a certificate is the citizen's own document, handed to
an employer or a school, so it names its holder in full; the ID number is masked as on every
receipt (the verification page shows the same mask). Insured units and months are the bureau's
answer as it is: that is what is being certified."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from kiosk.domain.masking import mask_id
from kiosk.i18n import Translator
from kiosk.services.queries import INSURANCES, Assurance, Query, QueryFailed, ask
from kiosk.services.receipts import Field, Note, Qr, ReceiptContext, ReceiptDocument, Separator, Title

log = logging.getLogger(__name__)

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_CODE = re.compile(r"^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$")
_ID = re.compile(r"^PC-[0-9A-F]{16}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A refusal the citizen can act on: the months asked for do not fit the bureau's calendar.
REFUSALS = {"bad_period": "certificate.error.period"}


@dataclass(frozen=True)
class InsuredUnit:
    name: str  # the employer (参保单位), or individual insurance
    first_month: str
    last_month: str


@dataclass(frozen=True)
class CertificateRow:
    insurance: str
    months_paid: int
    months_owed: int
    units: tuple[InsuredUnit, ...]


@dataclass(frozen=True)
class ParticipationCertificate:
    """The bureau's certificate as issued. `id_number` and `name` are the holder's, in full (the
    certificate is theirs); the printed document masks the ID number."""

    certificate_id: str
    id_number: str
    name: str
    first: str  # the period, months YYYY-MM
    last: str
    rows: tuple[CertificateRow, ...]
    bureau_name: str
    bureau_code: str
    issued_on: str
    code: str  # the verification code, printed in words
    url: str  # the verification page holding the code, printed as a QR code

    def __repr__(self) -> str:  # never the holder in logs
        return f"<ParticipationCertificate {self.certificate_id} {self.first}..{self.last} rows={len(self.rows)}>"


def request_body(id_number: str, assurance: Assurance, insurances: tuple[str, ...], first: str,
                 last: str) -> dict[str, Any]:
    """ParticipationCertificateRequest."""
    return {"id_number": id_number, "assurance": assurance.to_json(), "insurances": list(insurances),
            "from": first, "to": last}


def fetch(query: Query, timeout_s: float, id_number: str, assurance: Assurance, insurances: tuple[str, ...],
          first: str, last: str) -> ParticipationCertificate:
    """The certificate for these insurances and months. Raises QueryFailed (query.error.offline when
    the bureau cannot be reached; certificate.error.period for months the bureau refuses)."""
    try:
        answer = ask(query, "participation_certificate", request_body(id_number, assurance, insurances, first, last),
                     timeout_s)
    except QueryFailed as exc:
        if exc.reason == "query.error.refused" and exc.detail in REFUSALS:
            raise QueryFailed(REFUSALS[exc.detail], exc.detail) from None
        raise
    cert = parse(answer)
    if cert.id_number != id_number or [r.insurance for r in cert.rows] != list(insurances):
        raise QueryFailed("query.error.garbage", "certificate for another citizen or other insurances")
    log.info("event=certificate_issued id=%s rows=%d", cert.certificate_id, len(cert.rows))
    return cert


def first_insured_month(query: Query, timeout_s: float, id_number: str, assurance: Assurance,
                        insurances: tuple[str, ...]) -> str:
    """The first month of contributions among these insurances (the bureau's payment base)."""
    answer = ask(query, "payment_base", {"id_number": id_number, "assurance": assurance.to_json()}, timeout_s)
    try:
        months = [_month(p["first_month"]) for p in answer["periods"] if p["insurance"] in insurances]
    except (KeyError, TypeError) as exc:
        raise QueryFailed("query.error.garbage", repr(exc)) from None
    if not months:
        raise QueryFailed("query.error.not_found", "no insured period for these insurances")
    return min(months)


def _month(text: Any) -> str:
    if not isinstance(text, str) or not _MONTH.match(text):
        raise QueryFailed("query.error.garbage", f"bad month {text!r}")
    return text


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise QueryFailed("query.error.garbage", f"bad count {value!r}")
    return value


def _text(value: Any, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.match(value)):
        raise QueryFailed("query.error.garbage", "a certificate field does not fit the contract")
    return value


def parse(a: dict[str, Any]) -> ParticipationCertificate:
    """A ParticipationCertificate answer as values; anything off the contract is query.error.garbage."""
    try:
        rows = tuple(CertificateRow(
            _text(r["insurance"]), _count(r["months_paid"]), _count(r["months_owed"]),
            tuple(InsuredUnit(_text(u["name"]), _month(u["first_month"]), _month(u["last_month"]))
                  for u in r["units"])) for r in a["rows"])
        citizen, bureau, verification = a["citizen"], a["issuing_bureau"], a["verification"]
        cert = ParticipationCertificate(
            _text(a["certificate_id"], _ID), _text(citizen["id_number"]), _text(citizen["name"]),
            _month(a["period"]["from"]), _month(a["period"]["to"]), rows, _text(bureau["name"]),
            _text(bureau["code"]), _text(a["issued_on"], _DATE), _text(verification["code"], _CODE),
            _text(verification["url"]))
    except (KeyError, TypeError) as exc:
        raise QueryFailed("query.error.garbage", repr(exc)) from None
    # the QR code must lead to this certificate's check, over HTTPS, nowhere else
    if not (cert.url.startswith("https://") and cert.url.endswith(cert.code) and len(cert.url) <= 200):
        raise QueryFailed("query.error.garbage", "verification url does not hold the code")
    if not rows or any(r.insurance not in INSURANCES for r in rows):
        raise QueryFailed("query.error.garbage", "certificate rows")
    return cert


def document(ctx: ReceiptContext, cert: ParticipationCertificate) -> ReceiptDocument:
    """The certificate on paper (text or raster mode alike): the issuing bureau, the holder (name in
    full, ID number masked), the period, months paid and owed and the insured units per insurance,
    the verification code in words and the QR code of the verification page."""
    t = Translator(ctx.lang)

    def s(key: str, **fields: Any) -> str:
        text = t(f"certificate.paper.{key}", **fields)
        if text == f"certificate.paper.{key}":
            raise KeyError(key)  # a certificate never goes out with a message id on it
        return text

    blocks: list[Any] = [Title(s("title")), Note(cert.bureau_name, "center"), Separator(),
                         Field(s("name"), cert.name), Field(s("id"), mask_id(cert.id_number)),
                         Field(s("period"), s("months", first=cert.first, last=cert.last)), Separator()]
    for row in cert.rows:
        blocks.append(Field(s(f"insurance.{row.insurance}"), s("paid", n=row.months_paid)))
        if row.months_owed:
            blocks.append(Note(s("owed", n=row.months_owed), "right"))
        for u in row.units:
            blocks += [Note(u.name), Note(s("months", first=u.first_month, last=u.last_month), "right")]
        if not row.units:
            blocks.append(Note(s("no_unit")))
    blocks += [Separator(), Note(s("statement")), Field(s("issued_on"), cert.issued_on),
               Field(s("number"), cert.certificate_id), Separator(),
               Field(s("code"), cert.code), Qr(cert.url, s("scan")), Note(s("check", url=cert.url)), Separator(),
               Field(s("kiosk"), ctx.kiosk_id), Field(s("printed"), ctx.when.strftime("%Y-%m-%d %H:%M")),
               Note(s("keep"), "center")]
    return ReceiptDocument(tuple(blocks), "participation_certificate", cert.code, ctx.lang)
