"""E-card (电子社保卡) sign-in by QR token, e-card status and application, and the family account
(docs/bureau-api.yaml tags ecard and family), as the bureau answers them. Written from the contract.

The e-card clock (`now()`) is the wall clock plus an offset an admin may set, so a test can let a
token expire without waiting; sign-ins and verdicts age by the wall clock.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ecard_token
from .answers import Answers
from .ecard_store import ECardStore
from .personas import Persona, Personas, mask_id, mask_name
from .replies import Reply, log, problem
from .schemas import Schemas
from .store import Store

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data" / "ecard.toml"
SIGNIN_MAX_AGE_S = 30 * 60
ACTIVATION_VALID_S = 24 * 3600
STATUSES = ("none", "active", "suspended")

# (persona, assurance, max_age, kiosk_id) -> None when it authorises, else why not
AssuranceCheck = Callable[[Persona, dict[str, Any], "float | None", str], "str | None"]


@dataclass(frozen=True)
class ECardData:
    platform_key: bytes
    certificate_key: bytes
    app_url: str
    verify_url: str
    ecards: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    units: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    bureaus: dict[str, str] = field(default_factory=dict)


def load_data(path: Path = DEFAULT_DATA) -> ECardData:
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    units: dict[str, list[dict[str, str]]] = {}
    for unit in raw.get("units", ()):
        units.setdefault(unit["id_number"], []).append(dict(unit))
    return ECardData(
        platform_key=bytes.fromhex(raw["platform_key"]),
        certificate_key=bytes.fromhex(raw["certificate_key"]),
        app_url=raw["app_url"], verify_url=raw["verify_url"],
        ecards={e["id_number"]: (e["status"], e.get("activated_on")) for e in raw.get("ecards", ())},
        units=units, bureaus={b["code"]: b["name"] for b in raw.get("bureaus", ())},
    )


class ECardDesk:
    def __init__(self, personas: Personas, answers: Answers, store: Store, schemas: Schemas,
                 data: ECardData, assurance: AssuranceCheck) -> None:
        self.personas, self.answers, self.store, self.schemas = personas, answers, store, schemas
        self.data, self.assurance = data, assurance
        self.kept = ECardStore(store)
        self.clock_offset_s = 0
        self._accounts = {ecard_token.account_of(data.platform_key, i): i for i in personas.citizens}
        self.routes: dict[str, Callable[[dict[str, Any], str], Reply]] = {
            "/v1/ecard/sign-in": self.sign_in,
            "/v1/ecard/applications": self.apply,
            "/v1/family/members/add": self.family_add,
            "/v1/family/members/remove": self.family_remove,
        }

    def now(self) -> float:
        return time.time() + self.clock_offset_s

    # ---- e-card state --------------------------------------------------------------------
    def ecard(self, id_number: str) -> tuple[str, str | None]:
        return self.kept.state(id_number) or self.data.ecards.get(id_number, ("none", None))

    def status(self, persona: Persona) -> dict[str, Any]:
        status, activated_on = self.ecard(persona.id_number)
        return {"status": status, "activated_on": activated_on if status != "none" else None}

    def issue_token(self, id_number: str) -> dict[str, Any]:
        """What the e-card platform puts in the phone's QR code (admin: for tests)."""
        issued = int(self.now())
        account = ecard_token.account_of(self.data.platform_key, id_number)
        token = ecard_token.mint(self.data.platform_key, account, issued)
        return {"token": token, "expires_at": issued + ecard_token.LIFETIME_S}

    # ---- sign-in and the ecard_qr assurance ----------------------------------------------
    def sign_in(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        issue = self.schemas.problem("ECardSignInRequest", doc)
        if issue:
            return problem(400, "bad_request", f"request does not fit: {issue}")
        try:
            claims = ecard_token.parse(self.data.platform_key, doc["token"])
            if self.kept.token_used(claims.nonce):
                raise ecard_token.TokenRefused(403, "token_used", "e-card token used before")
            if self.now() >= claims.expires:
                raise ecard_token.TokenRefused(403, "token_expired", "e-card token expired")
            if not self.kept.use_token(claims.nonce, claims.account):
                raise ecard_token.TokenRefused(403, "token_used", "e-card token used before")
            id_number = self._accounts.get(claims.account)
            persona = self.personas.get(id_number) if id_number else None
            if persona is None or self.ecard(persona.id_number)[0] != "active":
                raise ecard_token.TokenRefused(403, "token_revoked",
                                               "e-card account unknown or not active")
        except ecard_token.TokenRefused as refused:
            log("ecard_sign_in", kiosk=kiosk_id, outcome="refused", reason=refused.code)
            return problem(refused.status, refused.code, refused.message)
        verification_id = "EV-" + secrets.token_hex(8).upper()
        self.kept.put_signin(verification_id, persona.id_number, kiosk_id)
        log("ecard_sign_in", kiosk=kiosk_id, outcome="signed_in", citizen=mask_id(persona.id_number))
        return Reply(200, {"verification_id": verification_id,
                           "citizen": {"id_number": persona.id_number, "name": persona.name},
                           "expires_in_s": SIGNIN_MAX_AGE_S})

    def signin_problem(self, persona: Persona, assurance: dict[str, Any], max_age: float | None,
                       kiosk_id: str) -> str | None:
        record = self.kept.signin(str(assurance.get("verification_id", "")))
        if record is None:
            return "verification_id is not an e-card sign-in"
        if record["id_number"] != persona.id_number or record["kiosk_id"] != kiosk_id:
            return "e-card sign-in is for another citizen or kiosk"
        if max_age is not None and time.time() - record["created_unix"] > max_age:
            return "e-card sign-in is too old"
        return None

    # ---- helpers shared by the operations ------------------------------------------------
    def checked_citizen(self, schema: str, doc: dict[str, Any], kiosk_id: str,
                 id_key: str = "id_number", assurance_key: str = "assurance"
                 ) -> tuple[Persona | None, Reply | None]:
        """Check the body against its schema, find the citizen, judge the assurance."""
        issue = self.schemas.problem(schema, doc)
        if issue:
            return None, problem(400, "bad_request", f"request does not fit {schema}: {issue}")
        return self._proven(doc[id_key], doc[assurance_key], kiosk_id)

    def _proven(self, id_number: str, assurance: dict[str, Any], kiosk_id: str
                ) -> tuple[Persona | None, Reply | None]:
        persona = self.personas.get(id_number)
        if persona is None:
            return None, problem(404, "citizen_not_found", "no such citizen")
        why = self.assurance(persona, assurance, SIGNIN_MAX_AGE_S, kiosk_id)
        if why:
            return None, problem(403, "assurance_invalid", why)
        return persona, None

    # ---- application ---------------------------------------------------------------------
    def apply(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        persona, refused = self.checked_citizen("ECardApplicationRequest", doc, kiosk_id)
        if persona is None:
            return refused or problem(500, "internal_error", "no citizen")
        operator = doc.get("on_behalf_of")
        if operator:
            if operator["operator_id_number"] == persona.id_number:
                return problem(400, "bad_request", "on_behalf_of names the applicant")
            _op, refused = self._proven(operator["operator_id_number"],
                                        operator["operator_assurance"], kiosk_id)
            if refused:
                return refused
        status = self.ecard(persona.id_number)[0]
        if status != "none":
            code = "ecard_exists" if status == "active" else "ecard_suspended"
            return problem(409, code, f"the citizen's e-card is {status}")
        card = self.answers.card_status(persona, self.store.events(persona.id_number))
        if card["status"] == "none":
            return problem(409, "card_required", "an e-card needs a social security card")
        application_id = "ECA-" + secrets.token_hex(6).upper()
        self.kept.set_state(persona.id_number, "active", self.answers.today.isoformat())
        self.kept.put_application(application_id, persona.id_number,
                                  operator["operator_id_number"] if operator else None, kiosk_id)
        until = dt.datetime.fromtimestamp(self.now() + ACTIVATION_VALID_S, dt.UTC)
        log("ecard_application", citizen=mask_id(persona.id_number),
            applied_for="family_member" if operator else "self")
        return Reply(200, {
            "application_id": application_id, "status": "active",
            "applied_for": "family_member" if operator else "self",
            "open": {"url": f"{self.data.app_url}?application={application_id}",
                     "activation_code": f"{secrets.randbelow(10**8):08d}",
                     "valid_until": until.strftime("%Y-%m-%dT%H:%M:%SZ")}})

    # ---- family account ------------------------------------------------------------------
    def family_of(self, persona: Persona) -> list[tuple[str, str]]:
        """The family account: the persona's members, then changes in the order made."""
        changes = {m: (r, removed) for m, r, removed in self.kept.family_changes(persona.id_number)}
        out = [(m, changes.get(m, (r, False))[0]) for m, r in persona.family
               if not changes.get(m, (r, False))[1]]
        initial = {m for m, _ in persona.family}
        out += [(m, r) for m, (r, removed) in changes.items() if m not in initial and not removed]
        return out

    def family_list(self, persona: Persona) -> dict[str, Any]:
        certified = self.store.certified_this_year(self.answers.today.year)
        return self.answers.family_members(persona, certified, self.family_of(persona))

    def family_add(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        owner, refused = self.checked_citizen("FamilyMemberAddRequest", doc, kiosk_id)
        if owner is None:
            return refused or problem(500, "internal_error", "no citizen")
        wanted = doc["member"]
        member = self.personas.get(wanted["id_number"])
        if member is None:
            return problem(404, "citizen_not_found", "no such member")
        if member.id_number == owner.id_number:
            return problem(409, "not_allowed", "a citizen is not their own family member")
        if any(m == member.id_number for m, _ in self.family_of(owner)):
            return problem(409, "already_member", "already in the family account")
        verdict = self.store.verification(wanted["consent"]["verification_id"])
        if (verdict is None or verdict["verdict"] != "match"
                or verdict["id_number"] != member.id_number
                or time.time() - verdict["created_unix"] > SIGNIN_MAX_AGE_S):
            return problem(403, "consent_invalid", "consent is not a recent match verdict of the member")
        self.kept.change_family(owner.id_number, member.id_number, wanted["relation"], False)
        log("family_add", citizen=mask_id(owner.id_number), member=mask_id(member.id_number))
        return Reply(200, self.family_list(owner))

    def family_remove(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        owner, refused = self.checked_citizen("FamilyMemberRemoveRequest", doc, kiosk_id)
        if owner is None:
            return refused or problem(500, "internal_error", "no citizen")
        relation = dict(self.family_of(owner)).get(doc["member_id_number"])
        if relation is None:
            return problem(404, "not_a_member", "not in the family account")
        self.kept.change_family(owner.id_number, doc["member_id_number"], relation, True)
        log("family_remove", citizen=mask_id(owner.id_number),
            member=mask_id(doc["member_id_number"]))
        return Reply(200, self.family_list(owner))


__all__ = ["ECardData", "ECardDesk", "load_data", "mask_name"]
