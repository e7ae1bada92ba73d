"""Opening sealed envelopes per docs/sealed-envelope.md (HPKE base mode, metadata bound in info)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

VERSION = 1
SUITE_NAME = "HPKE-Base-X25519-SHA256-AES256GCM"
INFO_PREFIX = b"ssc-kiosk/sealed-envelope/v1\x00"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class EnvelopeRejected(Exception):
    """A permanent problem with one envelope; `code` is the API's rejection reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Opened:
    metadata: dict[str, Any]
    plaintext: bytes


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _b64url(text: str) -> bytes:
    if "=" in text:
        raise EnvelopeRejected("decrypt_failed", "base64url must not be padded")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeRejected("decrypt_failed", "bad base64url") from exc


class Opener:
    """Holds the bureau's private keys by key id (one now; more after a rotation)."""

    def __init__(self, keys: list[X25519PrivateKey]) -> None:
        self._keys = {}
        for key in keys:
            raw = key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            self._keys[key_id(raw)] = key

    def open(self, envelope: dict[str, Any]) -> Opened:
        """Schema checks are the caller's; this checks version, suite, key and the seal."""
        if envelope.get("version") != VERSION:
            raise EnvelopeRejected("unsupported_version", "envelope version is not 1")
        if envelope.get("suite") != SUITE_NAME:
            raise EnvelopeRejected("unsupported_suite", "envelope suite is not supported")
        key = self._keys.get(envelope.get("kid", ""))
        if key is None:
            raise EnvelopeRejected("unknown_key", "envelope sealed to an unknown key id")
        metadata = envelope["metadata"]
        enc, ciphertext = _b64url(envelope["enc"]), _b64url(envelope["ciphertext"])
        if len(enc) != 32:
            raise EnvelopeRejected("decrypt_failed", "envelope cannot be opened")
        try:
            plaintext = _SUITE.decrypt(
                enc + ciphertext, key, info=INFO_PREFIX + canonical_json(metadata)
            )
        except (InvalidTag, ValueError) as exc:
            # one answer for every failure: say nothing about which step failed
            raise EnvelopeRejected("decrypt_failed", "envelope cannot be opened") from exc
        if len(plaintext) != metadata["size"]:
            raise EnvelopeRejected("metadata_mismatch", "metadata size differs from payload")
        return Opened(metadata, plaintext)
