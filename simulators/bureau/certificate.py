"""Participation certificates (参保证明, docs/bureau-api.yaml tag certificates): issued for insurance
kinds and a period, stored under a verification code (keyed MAC of the certificate id) that anyone
holding the paper can check. Months paid and owed follow answers.py's rules."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from .answers import Answers
from .ecard import ECardDesk
from .personas import Persona, mask_id, mask_name
from .replies import Reply, log, problem

_CODE = re.compile(r"^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$")
INDIVIDUAL = "个人参保"


def _text(month: tuple[int, int]) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


class Certificates:
    def __init__(self, desk: ECardDesk, answers: Answers) -> None:
        self.desk, self.answers = desk, answers

    def code_of(self, certificate_id: str) -> str:
        digest = hmac.new(self.desk.data.certificate_key, certificate_id.encode(),
                          hashlib.sha256).hexdigest()[:16].upper()
        return "-".join(digest[i:i + 4] for i in range(0, 16, 4))

    def _units(self, persona: Persona, months: list[str]) -> list[dict[str, str]]:
        if not months:
            return []
        first, last = months[0], months[-1]
        declared = self.desk.data.units.get(persona.id_number) or [
            {"name": INDIVIDUAL, "from": first, "to": last}]
        out = []
        for unit in declared:
            start, end = max(unit["from"], first), min(unit.get("to", last), last)
            if start <= end:
                out.append({"name": unit["name"], "first_month": start, "last_month": end})
        return out

    def _row(self, persona: Persona, kind: str, first: str, last: str) -> dict[str, Any]:
        months = [m for m in map(_text, self.answers.insured_months(persona)) if first <= m <= last]
        owed = sum(1 for m in months if m in persona.owed_months)
        return {"insurance": kind, "months_paid": len(months) - owed, "months_owed": owed,
                "units": self._units(persona, months)}

    def issue(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        persona, refused = self.desk.checked_citizen("ParticipationCertificateRequest", doc, kiosk_id)
        if persona is None:
            return refused or problem(500, "internal_error", "no citizen")
        first, last = doc["from"], doc["to"]
        today = self.answers.today
        if not first <= last <= f"{today.year:04d}-{today.month:02d}":
            return problem(400, "bad_period", "from must not be after to, nor to after this month")
        certificate_id = "PC-" + secrets.token_hex(8).upper()
        code = self.code_of(certificate_id)
        region = persona.id_number[:6]
        body = {
            "certificate_id": certificate_id,
            "citizen": {"id_number": persona.id_number, "name": persona.name},
            "period": {"from": first, "to": last},
            "rows": [self._row(persona, kind, first, last) for kind in doc["insurances"]],
            "issuing_bureau": {"code": region, "name": self.desk.data.bureaus.get(
                region, f"社会保险经办机构（{region}）")},
            "issued_on": today.isoformat(),
            "verification": {"code": code, "url": self.desk.data.verify_url + code},
        }
        self.desk.kept.put_certificate(code, certificate_id, persona.id_number, body)
        log("certificate", citizen=mask_id(persona.id_number), kiosk=kiosk_id, code=code)
        return Reply(200, body)

    def verify(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        issue = self.desk.schemas.problem("CertificateVerifyRequest", doc)
        if issue:
            return problem(400, "bad_request", f"request does not fit: {issue}")
        code = doc["verification_code"]
        if not _CODE.match(code):
            return problem(400, "bad_request", "not a verification code")
        body = self.desk.kept.certificate(code)
        if body is None:
            log("certificate_check", code=code, outcome="unknown")
            return problem(404, "certificate_not_found", "no certificate under this code")
        log("certificate_check", code=code, outcome="genuine")
        citizen = body["citizen"]
        return Reply(200, {
            "certificate_id": body["certificate_id"],
            "citizen": {"id_number_masked": mask_id(citizen["id_number"]),
                        "name_masked": mask_name(citizen["name"])},
            **{k: body[k] for k in ("period", "rows", "issuing_bureau", "issued_on")}})
