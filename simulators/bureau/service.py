"""The bureau API's behaviour, independent of HTTP: request in, Reply out."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import cardauth
from .answers import Answers
from .certificate import Certificates
from .ecard import ECardData, ECardDesk, load_data
from .envelope import EnvelopeRejected, Opener
from .facematch import FaceMatcher, MatcherUnavailable, resolve_photo
from .personas import Persona, Personas, id_number_valid, mask_id
from .replies import Reply, canonical, decode_jpeg, etag, etag_matches, log, now_text, problem
from .schemas import Schemas
from .store import Store

VERIFICATION_MAX_AGE_S = 30 * 60
# What the bureau pushes to a kiosk until an operator sets something else (admin PUT
# /kiosk-config/<kiosk_id>); names as in the kiosk's config schema (KioskConfig.settings).
DEFAULT_SETTINGS = {
    "sync.heartbeat_s": 300,
    "session.inactivity_s": 60,
    "ui.language": "zh_CN",
    "liveness.attempts": 3,
}
_REFERENCE_RE = re.compile(r"^[A-Za-z0-9-]{6,64}$")


class Bureau:
    def __init__(self, store: Store, personas: Personas, answers: Answers, opener: Opener,
                 matcher: FaceMatcher, schemas: Schemas, photos_dir: Path | None,
                 ecard_data: ECardData | None = None) -> None:
        self.store, self.personas, self.answers = store, personas, answers
        self.opener, self.matcher, self.schemas = opener, matcher, schemas
        self.photos_dir = photos_dir
        self.ecard = ECardDesk(personas, answers, store, schemas, ecard_data or load_data(),
                               self._assurance_problem)
        self.certificates = Certificates(self.ecard, answers)
        self._posts = {**self.ecard.routes, "/v1/certificates/participation": self.certificates.issue,
                       "/v1/certificates/verify": self.certificates.verify}
        self._queries: dict[str, tuple[str, Callable[[Persona, dict[str, Any]], Any]]] = {
            "payment-records": ("YearInsuranceQuery", lambda p, q: answers.payment_records(
                p, q["insurance"], q["year"])),
            "payment-base": ("CitizenQuery", lambda p, q: answers.payment_base(p)),
            "arrears": ("CitizenQuery", lambda p, q: answers.arrears(p)),
            "pension-payments": ("YearQuery", lambda p, q: answers.pension_payments(
                p, q["year"])),
            "pension-account": ("CitizenQuery", lambda p, q: answers.pension_account(p)),
            "medical-account": ("CitizenQuery", lambda p, q: answers.medical_account(p)),
            "card-status": ("CitizenQuery", lambda p, q: answers.card_status(
                p, store.events(p.id_number))),
            "card-applications": ("CitizenQuery", lambda p, q: answers.card_applications(p)),
            "family-members": ("CitizenQuery", lambda p, q: self.ecard.family_list(p)),
            "ecard-status": ("CitizenQuery", lambda p, q: self.ecard.status(p)),
        }

    # ---- routing -------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes,
               kiosk_id: str) -> Reply:
        path = path.split("?", 1)[0]
        if method == "GET" and path == "/v1/reference/outlets":
            return self.outlets(headers.get("if-none-match"))
        if method == "GET" and path.startswith("/v1/reference/kiosk-config/"):
            return self.kiosk_config(path.rsplit("/", 1)[1], kiosk_id,
                                     headers.get("if-none-match"))
        if method != "POST":
            known = path.startswith("/v1/")
            return problem(405 if known else 404, "method_not_allowed" if known else "not_found",
                           "no such operation")
        try:
            doc = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return problem(400, "bad_request", "body is not UTF-8 JSON")
        if not isinstance(doc, dict):
            return problem(400, "bad_request", "body must be a JSON object")
        if path == "/v1/submissions":
            return self.submit(doc, kiosk_id)
        if path == "/v1/identity/verify":
            return self.verify(doc)
        if path == "/v1/card-auth/challenge":
            return self.card_auth_challenge(doc, kiosk_id)
        if path == "/v1/card-auth/verify":
            return self.card_auth_verify(doc, kiosk_id)
        match = re.fullmatch(r"/v1/kiosks/([^/]+)/heartbeat", path)
        if match:
            return self.heartbeat(match.group(1), doc, kiosk_id)
        if path.startswith("/v1/queries/") and path[12:] in self._queries:
            return self.query(path[12:], doc, kiosk_id)
        if path in self._posts:
            return self._posts[path](doc, kiosk_id)
        return problem(404, "not_found", "no such operation")

    # ---- submissions ---------------------------------------------------------------------
    def submit(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        issue = self.schemas.problem("SubmissionBatch", doc)
        if issue:
            return problem(400, "bad_request", f"batch does not fit SubmissionBatch: {issue}")
        with self.store.transaction():
            results = [self._ingest(item, kiosk_id) for item in doc["items"]]
        return Reply(200, {"results": results})

    def _ingest(self, item: dict[str, Any], kiosk_id: str) -> dict[str, Any]:
        key = item["idempotency_key"]
        first = self.store.first_answer(key)
        if first is not None:
            log("submission", key=key[:8], outcome="duplicate")
            return {"idempotency_key": key, "outcome": "duplicate", "answer": json.loads(first)}
        reference = item.get("reference")
        if not isinstance(reference, str) or not _REFERENCE_RE.match(reference):
            reference = "UNKNOWN"
        answer: dict[str, Any] = {"idempotency_key": key, "reference": reference,
                                  "answered_at": now_text()}
        kind = None
        try:
            issue = self.schemas.problem("SubmissionItem", item)
            if issue:
                raise EnvelopeRejected("schema_invalid", f"item does not fit: {issue}")
            kind = item["envelope"]["metadata"]["kind"]
            payload, pictures = self._open(item, kiosk_id)
            answer.update(outcome="accepted",
                          bureau_receipt="BR-" + hashlib.sha256(key.encode()).hexdigest()[:16]
                          .upper(),
                          result_follows=kind in ("pension_certification", "annual_review"))
            payload["pictures"] = pictures
            meta = item["envelope"]["metadata"]
            self.store.put_record(key, kind, payload["citizen"]["id_number"],
                                  meta["created_at"], canonical(payload).decode())
            log("submission", key=key[:8], kind=kind, outcome="accepted",
                citizen=mask_id(payload["citizen"]["id_number"]))
        except EnvelopeRejected as rejected:
            reason = {"code": rejected.code, "message": rejected.message, "permanent": True}
            answer.update(outcome="rejected", reason=reason)
            log("submission", key=key[:8], kind=kind or "-", outcome="rejected",
                reason=rejected.code)
        text = canonical(answer).decode()
        self.store.put_answer(key, reference, kiosk_id, kind, answer["outcome"], text,
                              answer["answered_at"])
        result = {"idempotency_key": key, "outcome": answer["outcome"],
                  "answer": json.loads(text)}
        if "reason" in answer:
            result["reason"] = answer["reason"]
        return result

    def _open(self, item: dict[str, Any], kiosk_id: str) -> tuple[dict[str, Any], list[Any]]:
        """Open and check one envelope; returns the payload and the pictures' digests."""
        opened = self.opener.open(item["envelope"])
        meta = opened.metadata
        if meta["idempotency_key"] != item["idempotency_key"] or (
            meta["reference"] != item["reference"]
        ):
            raise EnvelopeRejected("metadata_mismatch", "metadata key/reference differ from item")
        if meta["kiosk_id"] != kiosk_id:
            raise EnvelopeRejected("kiosk_mismatch", "metadata kiosk_id is not this kiosk")
        try:
            payload = json.loads(opened.plaintext.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeRejected("payload_invalid", "payload is not UTF-8 JSON") from exc
        issue = self.schemas.problem("SubmissionPayload", payload)
        if issue:
            raise EnvelopeRejected("payload_invalid", f"payload does not fit: {issue}")
        if payload["kind"] != meta["kind"] or payload["reference"] != meta["reference"]:
            raise EnvelopeRejected("metadata_mismatch", "payload kind/reference differ")
        id_number = payload["citizen"]["id_number"]
        if not id_number_valid(id_number):
            raise EnvelopeRejected("invalid_id_number", "citizen id_number check fails")
        persona = self.personas.get(id_number)
        if persona is None:
            raise EnvelopeRejected("citizen_not_found", "no such citizen")
        assurance = payload["data"].get("assurance")
        why = self._assurance_problem(persona, assurance, None, kiosk_id) if assurance else None
        if why:
            log("assurance_refused", kind=meta["kind"], citizen=mask_id(id_number),
                reason=why.replace(" ", "_"))
            raise EnvelopeRejected("assurance_invalid", f"assurance does not fit the citizen: {why}")
        digests = []
        for picture in payload["pictures"]:
            data = decode_jpeg(picture["jpeg_b64"])
            if data is None:
                raise EnvelopeRejected("payload_invalid", f"{picture['role']} is not a JPEG")
            digests.append({"role": picture["role"], "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
        return payload, digests

    def _assurance_problem(self, persona: Persona, assurance: dict[str, Any],
                           max_age: float | None, kiosk_id: str) -> str | None:
        """None when the assurance authorises this citizen's data; else why not. `max_age` is
        set for queries (answered now) and None for submissions (judged when they arrive)."""
        method = assurance.get("method")
        if method == "card_pin":
            if assurance.get("card_number") != persona.card.number:
                return "card_number is not the citizen's card"
            return self._card_proof_problem(persona, assurance, max_age, kiosk_id)
        if method == "face_match":
            record = self.store.verification(assurance.get("verification_id", ""))
            if record is None or record["verdict"] != "match":
                return "verification_id is not a match verdict"
            if record["id_number"] != persona.id_number:
                return "verification_id is for another citizen"
            if max_age is not None and time.time() - record["created_unix"] > max_age:
                return "verification_id is too old"
            return None
        if method == "ecard_qr":
            return self.ecard.signin_problem(persona, assurance, max_age, kiosk_id)
        return None if max_age is None else "assurance method none cannot read personal data"

    def _card_proof_problem(self, persona: Persona, assurance: dict[str, Any],
                            max_age: float | None, kiosk_id: str) -> str | None:
        """card_pin stands only on a verified INTERNAL AUTHENTICATE cryptogram: a card_auth_id this
        bureau issued for this card and kiosk (queries: at most max_age old), or, in a submission
        made offline, the kiosk's challenge and the card's cryptogram, checked here, once."""
        number = persona.card.number
        auth_id, proof = assurance.get("card_auth_id"), assurance.get("card_auth")
        if auth_id:
            record = self.store.card_auth(auth_id)
            if record is None:
                return "card_auth_id unknown"
            if record["card_number"] != number or record["kiosk_id"] != kiosk_id:
                return "card_auth_id is for another card or kiosk"
            if max_age is not None and time.time() - record["created_unix"] > max_age:
                return "card_auth_id is too old"
            return None
        if proof:
            if max_age is not None:
                return "a query needs a card_auth_id (the bureau's challenge), not an offline proof"
            try:
                challenge = bytes.fromhex(proof["challenge"])
                cryptogram = bytes.fromhex(proof["cryptogram"])
            except (KeyError, TypeError, ValueError):
                return "card_auth is not hex challenge and cryptogram"
            if not cardauth.genuine(self.personas.card_auth_keys, persona.card.generation, number,
                                    persona.card.region_code, challenge, cryptogram):
                return "card cryptogram does not verify"
            if not self.store.see_card_challenge(number, challenge.hex().upper()):
                return "card challenge seen before (replay)"
            return None
        return "card_pin needs a verified card cryptogram (card_auth_id or card_auth)"

    # ---- card authentication -------------------------------------------------------------
    def card_auth_challenge(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        issue = self.schemas.problem("CardAuthChallengeRequest", doc)
        if issue:
            return problem(400, "bad_request", f"request does not fit: {issue}")
        if self.personas.by_card(doc["card_number"]) is None:
            return problem(404, "card_not_found", "no such card")
        challenge = secrets.token_bytes(cardauth.CHALLENGE_BYTES).hex().upper()
        challenge_id = "CC-" + secrets.token_hex(8).upper()
        self.store.put_card_challenge(challenge_id, challenge, doc["card_number"], kiosk_id)
        return Reply(200, {"challenge_id": challenge_id, "challenge": challenge,
                           "expires_in_s": cardauth.CHALLENGE_TTL_S})

    def card_auth_verify(self, doc: dict[str, Any], kiosk_id: str) -> Reply:
        issue = self.schemas.problem("CardAuthVerifyRequest", doc)
        if issue:
            return problem(400, "bad_request", f"request does not fit: {issue}")
        number = doc["card_number"]
        persona = self.personas.by_card(number)
        issued = self.store.take_card_challenge(doc["challenge_id"])
        masked = number[:2] + "*****" + number[-2:]
        why = None
        if persona is None:
            why = "no such card"
        elif issued is None:
            why = "challenge unknown or already answered"
        elif issued["card_number"] != number or issued["kiosk_id"] != kiosk_id:
            why = "challenge was issued for another card or kiosk"
        elif time.time() - issued["created_unix"] > cardauth.CHALLENGE_TTL_S:
            why = "challenge expired"
        elif not self.store.see_card_challenge(number, issued["challenge"]):
            why = "challenge seen before (replay)"
        elif not cardauth.genuine(self.personas.card_auth_keys, persona.card.generation, number,
                                  persona.card.region_code, bytes.fromhex(issued["challenge"]),
                                  bytes.fromhex(doc["cryptogram"])):
            why = "cryptogram does not verify: not a genuine card"
        if why is not None:
            log("card_auth", card=masked, outcome="refused", reason=why.split(":")[0].replace(" ", "_"))
            return problem(403, "card_auth_failed", why)
        card_auth_id = "CA-" + secrets.token_hex(8).upper()
        self.store.put_card_auth(card_auth_id, number, kiosk_id)
        log("card_auth", card=masked, outcome="genuine")
        return Reply(200, {"card_auth_id": card_auth_id,
                           "expires_in_s": cardauth.CARD_AUTH_MAX_AGE_S})

    # ---- queries and identity ------------------------------------------------------------
    def query(self, name: str, doc: dict[str, Any], kiosk_id: str) -> Reply:
        schema, answer = self._queries[name]
        issue = self.schemas.problem(schema, doc)
        if issue:
            return problem(400, "bad_request", f"query does not fit {schema}: {issue}")
        persona = self.personas.get(doc["id_number"])
        if persona is None:
            log("query", kind=name, citizen=mask_id(doc["id_number"]), status=404)
            return problem(404, "citizen_not_found", "no such citizen")
        why = self._assurance_problem(persona, doc["assurance"], VERIFICATION_MAX_AGE_S, kiosk_id)
        if why:
            log("query", kind=name, citizen=mask_id(persona.id_number), status=403)
            return problem(403, "assurance_invalid", why)
        log("query", kind=name, citizen=mask_id(persona.id_number), status=200)
        return Reply(200, answer(persona, doc))

    def verify(self, doc: dict[str, Any]) -> Reply:
        issue = self.schemas.problem("IdentityVerifyRequest", doc)
        if issue:
            return problem(400, "bad_request", f"request does not fit: {issue}")
        persona = self.personas.get(doc["id_number"])
        if persona is None:
            return problem(404, "citizen_not_found", "no such citizen")
        pictures = [decode_jpeg(p["jpeg_b64"]) for p in doc["pictures"]]
        if any(p is None for p in pictures):
            return problem(400, "bad_request", "pictures must be base64 JPEG")
        if doc["name"] != persona.name:
            verdict, score, faces, threshold, method = "no_match", 0.0, 0, 0.0, "name check"
        else:
            photo = self._photo(persona)
            try:
                result = self.matcher.compare([p for p in pictures if p], photo)
            except MatcherUnavailable as exc:
                log("face_match_unavailable", reason=str(exc).replace(" ", "_"))
                return problem(503, "unavailable", "face matcher unavailable", retry_after=60)
            verdict, score, faces = result.verdict, result.score, result.faces_found
            threshold, method = result.threshold, result.method
        verification_id = "FV-" + secrets.token_hex(8).upper()
        self.store.put_verification(verification_id, persona.id_number, verdict, score)
        log("face_match", citizen=mask_id(persona.id_number), verdict=verdict, score=score,
            faces=faces)
        return Reply(200, {"verification_id": verification_id, "verdict": verdict,
                           "score": score, "threshold": threshold, "faces_found": faces,
                           "method": method})

    def _photo(self, persona: Persona) -> Path | None:
        if self.photos_dir is not None:
            candidate = self.photos_dir / f"{persona.id_number}.jpg"
            if candidate.is_file():
                return candidate
        return resolve_photo(persona.photo_of_record, self.personas.path.parent)

    # ---- reference data and heartbeat ----------------------------------------------------
    def outlets(self, if_none_match: str | None) -> Reply:
        outlets = list(self.personas.outlets)
        version = etag(outlets)
        if etag_matches(if_none_match, version):
            return Reply(304, None, (("ETag", f'"{version}"'),))
        return Reply(200, {"version": version, "outlets": outlets}, (("ETag", f'"{version}"'),))

    def _settings(self, kiosk_id: str) -> dict[str, Any]:
        stored = self.store.kiosk_settings(kiosk_id)
        return json.loads(stored) if stored else dict(DEFAULT_SETTINGS)

    def kiosk_config(self, path_kiosk: str, kiosk_id: str, if_none_match: str | None) -> Reply:
        if path_kiosk != kiosk_id:
            return problem(403, "kiosk_mismatch", "a kiosk may read only its own config")
        settings = self._settings(kiosk_id)
        version = etag(settings)
        if etag_matches(if_none_match, version):
            return Reply(304, None, (("ETag", f'"{version}"'),))
        body = {"kiosk_id": kiosk_id, "version": version, "settings": settings}
        return Reply(200, body, (("ETag", f'"{version}"'),))

    def heartbeat(self, path_kiosk: str, doc: dict[str, Any], kiosk_id: str) -> Reply:
        issue = self.schemas.problem("Heartbeat", doc)
        if issue:
            return problem(400, "bad_request", f"heartbeat does not fit: {issue}")
        if not path_kiosk == kiosk_id == doc["kiosk_id"]:
            return problem(403, "kiosk_mismatch", "kiosk id differs from the certificate")
        received = now_text()
        self.store.put_heartbeat(kiosk_id, canonical(doc).decode(), received)
        queue = doc["queue"]
        log("heartbeat", kiosk=kiosk_id, clock_synchronised=doc["clock_synchronised"],
            pending=queue["pending"], dead=queue["dead"])
        return Reply(200, {"received_at": received, "server_time": now_text(),
                           "config_version": etag(self._settings(kiosk_id)),
                           "outlets_version": etag(list(self.personas.outlets))})
