"""Sealing a submission to the bureau's public key, as docs/sealed-envelope.md specifies.

HPKE base mode (RFC 9180), X25519 + HKDF-SHA256 + AES-256-GCM. The kiosk holds only the public
key, so it cannot open what it queued. The plaintext metadata is bound into the HPKE info string:
the bureau refuses an envelope whose metadata was changed after sealing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from kiosk.sync import hpke_ahead
from kiosk.sync.records import EnvelopeMeta

ENVELOPE_VERSION = 1
PAYLOAD_FORMAT = 1
SUITE_NAME = "HPKE-Base-X25519-SHA256-AES256GCM"
INFO_PREFIX = b"ssc-kiosk/sealed-envelope/v1\x00"
ENC_LENGTH = 32  # X25519 encapsulated key
MAX_PLAINTEXT = 8 * 1024 * 1024  # EnvelopeMetadata.size maximum in the API

# The suite as `cryptography` implements it: what the bureau opens envelopes with, and what the
# tests check hpke_ahead against.
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


class SealError(ValueError):
    """The bureau key is unusable or the payload cannot be sealed (too large, bad metadata)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_bytes(data: bytes) -> bytes:
    # base64.urlsafe_b64encode without its two Python frames, the alphabet changed by two
    # replace() (memchr-driven) instead of a translate() through every byte
    return (binascii.b2a_base64(data, newline=False).replace(b"+", b"-").replace(b"/", b"_")
            .rstrip(b"="))


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII escapes: the byte form both sides hash into info."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def rfc3339(ts: float) -> str:
    """UTC with microseconds and a Z, e.g. 2026-12-01T09:30:00.000000Z (strftime and f-strings
    cost several microseconds per call in every sealed record; isoformat is one C call)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")[:26] + "Z"


def metadata(meta: EnvelopeMeta, size: int) -> dict[str, Any]:
    """The envelope's clear metadata (EnvelopeMetadata in docs/bureau-api.yaml)."""
    return {
        "kind": meta.kind,
        "created_at": rfc3339(meta.created_at),
        "clock_synchronised": meta.clock_synced,
        "boot_counter": meta.boot,
        "created_monotonic_ms": max(0, int(meta.created_mono * 1000)),
        "size": size,
        "reference": meta.reference,
        "idempotency_key": meta.idempotency_key,
        "kiosk_id": meta.kiosk_id,
        "payload_format": PAYLOAD_FORMAT,
    }


_json_str = json.encoder.encode_basestring_ascii  # the C escaper json.dumps(ensure_ascii=True) uses


def metadata_json(meta: EnvelopeMeta, size: int) -> bytes:
    """canonical_json(metadata(meta, size)), written out in its sorted key order: the same bytes
    (a test compares them on random values) without building and sorting a dict per record."""
    return (b'{"boot_counter":%d,"clock_synchronised":%s,"created_at":%s,"created_monotonic_ms":%d,'
            b'"idempotency_key":%s,"kind":%s,"kiosk_id":%s,"payload_format":%d,"reference":%s,'
            b'"size":%d}') % (
        meta.boot, b"true" if meta.clock_synced else b"false", _json_str(rfc3339(meta.created_at)).encode(),
        max(0, int(meta.created_mono * 1000)), _json_str(meta.idempotency_key).encode(),
        _json_str(meta.kind).encode(), _json_str(meta.kiosk_id).encode(), PAYLOAD_FORMAT,
        _json_str(meta.reference).encode(), size)


# What follows the metadata in every envelope (keys in canonical_json's sorted order).
_ENVELOPE_TAIL = b',"suite":"%s","version":%d}' % (SUITE_NAME.encode(), ENVELOPE_VERSION)


class BureauSealer:
    """Seals to one bureau public key; seal() returns the envelope as canonical JSON bytes."""

    def __init__(self, public_key: X25519PublicKey) -> None:
        self._key = public_key
        self._encapsulator = hpke_ahead.Encapsulator(public_key)
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.kid = hashlib.sha256(raw).hexdigest()[:16]
        self._kid_part = b'","kid":"' + self.kid.encode() + b'","metadata":'

    @classmethod
    def from_pem_file(cls, path: Path | str) -> BureauSealer:
        try:
            key = serialization.load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise SealError(f"bureau public key {path}: {exc}") from exc
        if not isinstance(key, X25519PublicKey):
            raise SealError(f"bureau public key {path}: not an X25519 key")
        return cls(key)

    def __repr__(self) -> str:
        return f"<BureauSealer kid={self.kid} suite={SUITE_NAME}>"

    def seal(self, payload: bytes, meta: EnvelopeMeta) -> bytes:
        """canonical_json(seal_dict(...)), assembled from parts: the metadata's canonical form is
        already made for info, and the other values are base64url or ASCII constants that need
        no escaping, so re-encoding the whole envelope (sorted, escaped) would only cost time."""
        md_json, enc, ciphertext = self._encrypt(payload, meta)
        return b"".join((b'{"ciphertext":"', _b64url_bytes(ciphertext), b'","enc":"',
                         _b64url_bytes(enc), self._kid_part, md_json, _ENVELOPE_TAIL))

    def prepare_next(self) -> None:
        """The caller is about to wait on an fsync: make the next seal's key agreement meanwhile."""
        self._encapsulator.prepare()

    def seal_dict(self, payload: bytes, meta: EnvelopeMeta) -> dict[str, Any]:
        md_json, enc, ciphertext = self._encrypt(payload, meta)
        return {
            "version": ENVELOPE_VERSION,
            "suite": SUITE_NAME,
            "kid": self.kid,
            "metadata": json.loads(md_json),
            "enc": b64url(enc),
            "ciphertext": b64url(ciphertext),
        }

    def _encrypt(self, payload: bytes, meta: EnvelopeMeta) -> tuple[bytes, bytes, bytes]:
        """(canonical metadata JSON, enc, ciphertext)."""
        if len(payload) > MAX_PLAINTEXT:
            raise SealError(f"payload of {len(payload)} bytes exceeds {MAX_PLAINTEXT}")
        md_json = metadata_json(meta, len(payload))
        # SUITE.encrypt's computation, with the encapsulation made ahead (see hpke_ahead)
        enc, ciphertext = hpke_ahead.seal_parts(self._encapsulator.take(), payload,
                                                INFO_PREFIX + md_json)
        return md_json, enc, ciphertext
