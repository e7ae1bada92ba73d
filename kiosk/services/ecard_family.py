"""The electronic social security card (电子社保卡) application and the family account, asked of
the bureau through the sync daemon (docs/bureau-api.yaml tags ecard and family): the e-card's
status, an application for oneself or for a family member who is present, adding a member with
the member's own consent (a recent face match of the member) and removing one. Answers are
checked and turned into plain values; the bureau's refusals become `Refused` with its code."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from kiosk.domain.masking import mask_id
from kiosk.services.certification import RELATIONS, FamilyMember, Person
from kiosk.services.queries import Assurance, Query, QueryFailed, ask

log = logging.getLogger(__name__)

ECARD_STATUSES = ("none", "active", "suspended")
# The bureau's refusals the citizen is told about in words of their own (message ids
# ecard_apply.refused.<code> and family_account.refused.<code>).
APPLY_REFUSALS = ("ecard_exists", "ecard_suspended", "card_required")
FAMILY_REFUSALS = ("consent_invalid", "already_member", "not_allowed", "not_a_member")
_APP_ID = re.compile(r"^ECA-[0-9A-F]{12}$")
_CODE = re.compile(r"^[0-9]{8}$")


class Refused(Exception):
    """The bureau said no: `code` is its Problem code, `reason` the message id (title/body below)."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(f"{reason}: {code}")
        self.reason, self.code = reason, code


@dataclass(frozen=True)
class EcardStatus:
    status: str  # none | active | suspended
    activated_on: str  # YYYY-MM-DD, "" when none


@dataclass(frozen=True)
class EcardIssued:
    """An e-card opened at the kiosk, and how to open it on the phone: `url` (shown as a QR code)
    opens the official app, where `activation_code` is typed before `valid_until` (UTC)."""

    application_id: str
    applied_for: str  # self | family_member
    url: str
    activation_code: str
    valid_until: dt.datetime

    def __repr__(self) -> str:  # the activation code is the citizen's: never in a log
        return f"EcardIssued({self.application_id!r}, applied_for={self.applied_for!r})"


def _refusal(exc: QueryFailed, prefix: str, codes: tuple[str, ...]) -> BaseException:
    if exc.reason == "query.error.refused" and exc.detail in codes:
        log.info("event=%s_refused code=%s", prefix, exc.detail)
        return Refused(f"{prefix}.refused.{exc.detail}", exc.detail)
    return exc


def ecard_status(query: Query, id_number: str, assurance: Assurance, timeout_s: float) -> EcardStatus:
    a = ask(query, "ecard_status", {"id_number": id_number, "assurance": assurance.to_json()}, timeout_s)
    status, on = a.get("status"), a.get("activated_on")
    if status not in ECARD_STATUSES or not (on is None or isinstance(on, str)):
        raise QueryFailed("query.error.garbage", "e-card status does not fit ECardStatus")
    return EcardStatus(str(status), on or "")


def apply_ecard(query: Query, id_number: str, assurance: Assurance, phone: str, timeout_s: float,
                operator: tuple[str, Assurance, str] | None = None) -> EcardIssued:
    """`assurance` is the applicant's own, made now; `operator` (id number, assurance, relation)
    when a signed-in citizen applies for a family member who is present."""
    body: dict[str, Any] = {"id_number": id_number, "assurance": assurance.to_json(), "phone": phone}
    if operator is not None:
        op_id, op_assurance, relation = operator
        if relation not in RELATIONS:
            raise ValueError(f"relation {relation!r}")
        body["on_behalf_of"] = {"operator_id_number": op_id, "operator_assurance": op_assurance.to_json(),
                                "relation": relation}
    try:
        a = ask(query, "ecard_application", body, timeout_s)
    except QueryFailed as exc:
        raise _refusal(exc, "ecard_apply", APPLY_REFUSALS) from None
    try:
        app_id, opened, applied_for = a["application_id"], a["open"], a["applied_for"]
        url, code = opened["url"], opened["activation_code"]
        until = dt.datetime.strptime(opened["valid_until"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except (KeyError, TypeError, ValueError) as exc:
        raise QueryFailed("query.error.garbage", repr(exc)) from None
    wanted = "family_member" if operator is not None else "self"
    if not (isinstance(app_id, str) and _APP_ID.match(app_id) and a.get("status") == "active"
            and applied_for == wanted and isinstance(url, str) and url.startswith("https://")
            and len(url) <= 200 and isinstance(code, str) and _CODE.match(code)):
        raise QueryFailed("query.error.garbage", "e-card application does not fit ECardApplication")
    log.info("event=ecard_applied applied_for=%s application=%s", wanted, app_id)
    return EcardIssued(app_id, wanted, url, code, until)


def parse_family(a: dict[str, Any]) -> list[FamilyMember]:
    """FamilyMembers as plain values (the family-members query, and the answer to a change)."""
    out = []
    try:
        for m in a["members"]:
            if m["relation"] not in RELATIONS:
                raise QueryFailed("query.error.garbage", "family relation")
            out.append(FamilyMember(Person(str(m["id_number"]), str(m["name"])), m["relation"],
                                    bool(m["retired"]), bool(m["certification_due"])))
    except (KeyError, TypeError) as exc:
        raise QueryFailed("query.error.garbage", repr(exc)) from None
    return out


def add_family_member(query: Query, id_number: str, assurance: Assurance, member_id: str, relation: str,
                      consent_verification_id: str, timeout_s: float) -> list[FamilyMember]:
    """The member consents by proving who they are at the kiosk: `consent_verification_id` is the
    FV- of the member's own face match. Returns the family account afterwards."""
    if relation not in RELATIONS:
        raise ValueError(f"relation {relation!r}")
    body = {"id_number": id_number, "assurance": assurance.to_json(),
            "member": {"id_number": member_id, "relation": relation,
                       "consent": {"method": "face_match", "verification_id": consent_verification_id}}}
    try:
        members = parse_family(ask(query, "family_member_add", body, timeout_s))
    except QueryFailed as exc:
        if exc.reason == "query.error.not_found":  # the citizen is signed in: the member is unknown
            raise Refused("family_account.refused.member_not_found", exc.detail) from None
        raise _refusal(exc, "family_account", FAMILY_REFUSALS) from None
    log.info("event=family_member_added member=%s count=%d", mask_id(member_id), len(members))
    return members


def remove_family_member(query: Query, id_number: str, assurance: Assurance, member_id: str,
                         timeout_s: float) -> list[FamilyMember]:
    body = {"id_number": id_number, "assurance": assurance.to_json(), "member_id_number": member_id}
    try:
        members = parse_family(ask(query, "family_member_remove", body, timeout_s))
    except QueryFailed as exc:
        raise _refusal(exc, "family_account", FAMILY_REFUSALS) from None
    log.info("event=family_member_removed member=%s count=%d", mask_id(member_id), len(members))
    return members
