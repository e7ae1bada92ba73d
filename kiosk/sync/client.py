"""The bureau client: HTTPS with mutual TLS (stdlib ssl + http.client) per docs/bureau-api.yaml.

Every failure becomes one of three typed errors the daemon can act on: BureauUnreachable (try
again later), BureauRejected (a permanent 4xx: retrying cannot help), BureauGarbage (an answer
that is not what the contract promises; also tried again, never taken as an acknowledgement).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import os
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kiosk.sync.records import Item

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024  # an answer larger than this is garbage, not something to buffer
MAX_RETRY_AFTER_S = 3600.0
MAX_BATCH = 100  # SubmissionBatch.items.maxItems
# The contract caps request bodies at 16 MiB (413). Half of that keeps a batch of certifications
# (four pictures each, ~200 KB sealed) well clear of it, JSON framing included.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
_BODY_DEFAULT = object()

QUERY_PATHS = {
    "payment_records": "/v1/queries/payment-records",
    "payment_base": "/v1/queries/payment-base",
    "arrears": "/v1/queries/arrears",
    "pension_payments": "/v1/queries/pension-payments",
    "pension_account": "/v1/queries/pension-account",
    "medical_account": "/v1/queries/medical-account",
    "card_status": "/v1/queries/card-status",
    "card_applications": "/v1/queries/card-applications",
    "family_members": "/v1/queries/family-members",
    "identity_verify": "/v1/identity/verify",
    "card_auth_challenge": "/v1/card-auth/challenge",
    "card_auth_verify": "/v1/card-auth/verify",
    "ecard_sign_in": "/v1/ecard/sign-in",
    "ecard_status": "/v1/queries/ecard-status",
    "ecard_application": "/v1/ecard/applications",
    "family_member_add": "/v1/family/members/add",
    "family_member_remove": "/v1/family/members/remove",
    "participation_certificate": "/v1/certificates/participation",
    "certificate_verify": "/v1/certificates/verify",
}
_TRANSIENT_ERRORS = (OSError, http.client.HTTPException, ssl.SSLError)


class BureauError(Exception):
    """Base of the client's errors; `reason` is short technician text, never personal data."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


class BureauUnreachable(BureauError):
    """No usable answer (network, TLS, timeout, 5xx, 429): try again after retry_after."""

    def __init__(self, reason: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(reason, status)
        self.retry_after = retry_after


class BureauRejected(BureauError):
    """A permanent refusal (4xx other than 429), with the bureau's problem code."""

    def __init__(self, reason: str, status: int | None = None, code: str = "") -> None:
        super().__init__(reason, status)
        self.code = code


class BureauGarbage(BureauError):
    """The bureau answered, but not with what the contract says (not JSON, wrong shape)."""


@dataclass(frozen=True)
class Outcome:
    """What to do with one submitted row: ack, dead (permanent) or retry (transient)."""

    item_id: int
    action: str  # "ack" | "dead" | "retry"
    reason: str = ""


# A JSON object as the bureau sent it (the contract's schemas say what is inside).
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """A 2xx answer (its body always a JSON object), or a 304 (an empty body: keep the copy)."""

    status: int
    body: JsonObject
    etag: str | None = None


def tls_context(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """Client context: the bureau's server CA as the ONLY trust anchor, our certificate, and
    the bureau's name checked against subjectAltName only.

    ca_file (sync.ca_file) must be the anchor for the bureau's server certificates and must not
    also sign kiosk certificates: otherwise whoever can get a kiosk-side certificate issued
    could present it as the bureau."""
    for key, path in (("sync.ca_file", ca_file), ("sync.cert_file", cert_file),
                      ("sync.key_file", key_file)):
        if not os.path.isfile(path):
            # ssl's own error names no file; the technician needs to know which one.
            raise FileNotFoundError(f"{key}: {path} does not exist")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname by default
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=ca_file)  # no load_default_certs(): pinned, not public PKI
    ctx.load_cert_chain(cert_file, key_file)
    ctx.check_hostname = True
    # A certificate without a subjectAltName is not taken as named by its CN (RFC 6125 6.4.4).
    ctx.hostname_checks_common_name = False
    return ctx


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), clamped to an hour."""
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        secs = parsed.timestamp() - time.time()
    return min(max(secs, 0.0), MAX_RETRY_AFTER_S)


class BureauClient:
    """One keep-alive connection to the bureau; not thread-safe (one per thread)."""

    def __init__(self, base_url: str, kiosk_id: str, ca_file: str, cert_file: str,
                 key_file: str, timeout_s: float = 10.0,
                 context: ssl.SSLContext | None = None) -> None:
        url = urlsplit(base_url)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"bureau url must be https://host[:port]: {base_url!r}")
        self.host, self.port = url.hostname, url.port or 443
        self.prefix = url.path.rstrip("/")
        self.kiosk_id = kiosk_id
        self.timeout_s = timeout_s
        self._ctx = context or tls_context(ca_file, cert_file, key_file)
        self._conn: http.client.HTTPSConnection | None = None

    def __repr__(self) -> str:
        state = "connected" if self._conn and self._conn.sock else "idle"
        return f"<BureauClient https://{self.host}:{self.port}{self.prefix} {state}>"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> BureauClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -------------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        """One call with a timeout; a keep-alive connection the bureau closed is retried once."""
        hdrs = {"Accept": "application/json", "Connection": "keep-alive", **(headers or {})}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = _read(resp)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: reconnect once
                raise BureauUnreachable(f"connection lost: {type(exc).__name__}") from exc
            except ssl.SSLError as exc:
                self.close()
                raise BureauUnreachable(f"tls: {exc.reason or exc}") from exc
            except TimeoutError as exc:
                self.close()
                raise BureauUnreachable(f"timeout after {self.timeout_s:g}s") from exc
            except BureauGarbage:
                self.close()
                raise
            except _TRANSIENT_ERRORS as exc:
                self.close()
                raise BureauUnreachable(f"network: {type(exc).__name__}: {exc}"[:200]) from exc
            if resp.will_close:
                self.close()
            return self._judge(resp, data)
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self.host, self.port, context=self._ctx,
                                                     timeout=self.timeout_s)
        return self._conn

    def _judge(self, resp: http.client.HTTPResponse, data: bytes) -> Answer:
        status = resp.status
        if status == 304:
            return Answer(304, {}, resp.getheader("ETag"))
        try:
            body = json.loads(data) if data else None
        except (ValueError, UnicodeDecodeError):
            body = _BODY_DEFAULT
        if 200 <= status < 300:
            if not isinstance(body, dict):
                raise BureauGarbage(f"status={status} body is not a JSON object", status)
            return Answer(status, body, resp.getheader("ETag"))
        problem = body if isinstance(body, dict) else {}
        code = str(problem.get("code", ""))[:48]
        message = str(problem.get("message", ""))[:200]
        reason = f"http {status} {code} {message}".strip()
        if status == 429 or status >= 500:
            after = parse_retry_after(resp.getheader("Retry-After"))
            if after is None and isinstance(problem.get("retry_after_s"), int):
                after = min(float(problem["retry_after_s"]), MAX_RETRY_AFTER_S)
            raise BureauUnreachable(reason, status, after)
        if 400 <= status < 500:
            if body is _BODY_DEFAULT:
                # A 4xx whose body is not a Problem may be a proxy's page, not the bureau's word.
                raise BureauGarbage(f"status={status} body is not JSON", status)
            raise BureauRejected(reason, status, code)
        raise BureauGarbage(f"unexpected status {status}", status)

    # --- API -------------------------------------------------------------------------------
    def submit(self, items: Sequence[Item]) -> list[Outcome]:
        """POST /v1/submissions: one Outcome per item; BureauError when the whole batch failed."""
        if not 1 <= len(items) <= MAX_BATCH:
            raise ValueError(f"batch of {len(items)} items; 1..{MAX_BATCH} allowed")
        # The envelope is stored as canonical JSON: splice it in rather than parse it again.
        parts = [b'{"idempotency_key":' + json.dumps(i.idempotency_key).encode()
                 + b',"reference":' + json.dumps(i.reference).encode()
                 + b',"envelope":' + i.envelope + b"}" for i in items]
        answer = self.request("POST", "/v1/submissions", b'{"items":[' + b",".join(parts) + b"]}")
        return judge_results(items, answer.body)

    def query(self, kind: str, body: JsonObject) -> JsonObject:
        """A live query (POST with the citizen's data in the body, never in the URL)."""
        path = QUERY_PATHS.get(kind.replace("-", "_"))
        if path is None:
            raise ValueError(f"unknown query kind {kind!r}")
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.request("POST", path, data).body

    def heartbeat(self, body: JsonObject) -> JsonObject:
        data = json.dumps(body, separators=(",", ":")).encode()
        ack = self.request("POST", f"/v1/kiosks/{self.kiosk_id}/heartbeat", data).body
        if not {"received_at", "server_time"} <= ack.keys():
            raise BureauGarbage("heartbeat ack lacks received_at/server_time")
        return ack

    def reference(self, name: str, etag: str | None = None) -> Answer:
        """GET reference data: name is 'outlets' or 'kiosk-config'; 304 when etag is current."""
        path = {"outlets": "/v1/reference/outlets",
                "kiosk-config": f"/v1/reference/kiosk-config/{self.kiosk_id}"}[name]
        return self.request("GET", path, headers={"If-None-Match": etag} if etag else None)


def _read(resp: http.client.HTTPResponse) -> bytes:
    length = resp.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise BureauGarbage(f"answer of {length} bytes is too large", resp.status)
    data = resp.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise BureauGarbage("answer too large", resp.status)
    return data


def judge_results(items: Sequence[Item], body: Any) -> list[Outcome]:
    """Map SubmissionBatchResult to per-row outcomes; anything off-contract is garbage."""
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or len(results) != len(items):
        raise BureauGarbage("results missing or not one per item")
    outcomes = []
    for item, res in zip(items, results, strict=True):
        if not isinstance(res, dict) or res.get("idempotency_key") != item.idempotency_key:
            raise BureauGarbage("result does not answer the item in its place")
        outcome = res.get("outcome")
        answer = res.get("answer")
        if outcome in ("accepted", "duplicate"):
            if (not isinstance(answer, dict)
                    or answer.get("idempotency_key") != item.idempotency_key
                    or answer.get("outcome") not in ("accepted", "rejected")):
                raise BureauGarbage(f"{outcome} without a valid answer")
            if answer["outcome"] == "rejected":
                # A duplicate of a stored permanent rejection: the bureau's first word stands.
                outcomes.append(Outcome(item.id, "dead", _reason(answer.get("reason"))))
            else:
                outcomes.append(Outcome(item.id, "ack"))
        elif outcome == "rejected":
            reason = res.get("reason")
            if not isinstance(reason, dict) or not isinstance(reason.get("permanent"), bool):
                raise BureauGarbage("rejected without a reason")
            outcomes.append(Outcome(item.id, "dead" if reason["permanent"] else "retry",
                                    _reason(reason)))
        else:
            raise BureauGarbage(f"unknown outcome {str(outcome)[:20]!r}")
    return outcomes


def _reason(reason: Any) -> str:
    if not isinstance(reason, dict):
        return "rejected"
    return f"{str(reason.get('code', ''))[:48]}: {str(reason.get('message', ''))[:200]}"
