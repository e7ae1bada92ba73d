"""E-card QR tokens (docs/bureau-api.yaml ECardToken): `ESSC1.<payload>.<mac>`, minted by the e-card
platform for a citizen's phone, judged by the bureau. Written from the contract."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

PREFIX = "ESSC1"
LIFETIME_S = 60
MAX_CHARS = 192
MAC_BYTES = 16
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_ACCOUNT = re.compile(r"^[0-9A-F]{16}$")
_NONCE = re.compile(r"^[0-9a-f]{16}$")


class TokenRefused(Exception):
    """Why a token is refused: the Problem code and HTTP status the contract gives it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Claims:
    account: str
    issued: int
    expires: int
    nonce: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64url_decode(text: str) -> bytes:
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def account_of(key: bytes, id_number: str) -> str:
    """The citizen's e-card account: opaque, no personal data in the QR code."""
    return hmac.new(key, b"account:" + id_number.encode(), hashlib.sha256).hexdigest()[:16].upper()


def _mac(key: bytes, signed: str) -> str:
    return b64url(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES])


def mint(key: bytes, account: str, issued: int, lifetime_s: int = LIFETIME_S) -> str:
    claims = {"a": account, "i": issued, "e": issued + lifetime_s, "n": secrets.token_hex(8)}
    payload = b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{PREFIX}.{payload}"
    return f"{signed}.{_mac(key, signed)}"


def _malformed(why: str) -> TokenRefused:
    return TokenRefused(400, "token_malformed", f"e-card token malformed: {why}")


def parse(key: bytes, token: str, lifetime_s: int = LIFETIME_S) -> Claims:
    """The token's claims once its form and MAC are good; TokenRefused (malformed, forged) else.
    Expiry, reuse and the account's state are the caller's to judge."""
    if len(token) > MAX_CHARS or not token.isascii():
        raise _malformed("too long or not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise _malformed(f"not {PREFIX}.<payload>.<mac>")
    try:
        raw = _b64url_decode(parts[1])
        mac = _b64url_decode(parts[2])
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _malformed("payload or MAC is not base64url JSON") from None
    if len(mac) != MAC_BYTES:
        raise _malformed("MAC is not 16 bytes")
    if not isinstance(doc, dict) or set(doc) != {"a", "i", "e", "n"}:
        raise _malformed("payload members are not a, i, e, n")
    account, issued, expires, nonce = doc["a"], doc["i"], doc["e"], doc["n"]
    if not (isinstance(account, str) and _ACCOUNT.match(account) and isinstance(nonce, str)
            and _NONCE.match(nonce) and type(issued) is int and type(expires) is int
            and expires == issued + lifetime_s):
        raise _malformed("payload members do not fit the format")
    if not hmac.compare_digest(_mac(key, f"{parts[0]}.{parts[1]}"), parts[2]):
        raise TokenRefused(403, "token_forged", "e-card token MAC does not verify")
    return Claims(account, issued, expires, nonce)
