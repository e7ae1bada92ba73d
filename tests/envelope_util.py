"""Test-side sealer for docs/sealed-envelope.md, written from that document alone.

HPKE (RFC 9180) base mode is spelled out here with X25519, stdlib HMAC and AES-GCM instead of
`cryptography`'s HPKE, so that it is a third, independent implementation: the kiosk sealer and
the bureau simulator both have to agree with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENVELOPE_VERSION = 1
SUITE = "HPKE-Base-X25519-SHA256-AES256GCM"
INFO_PREFIX = b"ssc-kiosk/sealed-envelope/v1\x00"

KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0002
KEM_SUITE_ID = b"KEM" + KEM_ID.to_bytes(2, "big")
HPKE_SUITE_ID = (
    b"HPKE" + KEM_ID.to_bytes(2, "big") + KDF_ID.to_bytes(2, "big") + AEAD_ID.to_bytes(2, "big")
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII only: equal to RFC 8785 for our integer/ASCII values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    return _expand(prk, labeled_info, length)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def hpke_seal(
    recipient: X25519PublicKey,
    info: bytes,
    plaintext: bytes,
    ephemeral: X25519PrivateKey | None = None,
) -> tuple[bytes, bytes]:
    """RFC 9180 SetupBaseS + single Seal with empty AAD; returns (enc, ciphertext)."""
    sk_e = ephemeral or X25519PrivateKey.generate()
    enc = _raw(sk_e.public_key())
    dh = sk_e.exchange(recipient)
    kem_context = enc + _raw(recipient)
    eae_prk = _labeled_extract(KEM_SUITE_ID, b"", b"eae_prk", dh)
    shared_secret = _labeled_expand(KEM_SUITE_ID, eae_prk, b"shared_secret", kem_context, 32)
    psk_id_hash = _labeled_extract(HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(HPKE_SUITE_ID, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(HPKE_SUITE_ID, shared_secret, b"secret", b"")
    key = _labeled_expand(HPKE_SUITE_ID, secret, b"key", context, 32)
    base_nonce = _labeled_expand(HPKE_SUITE_ID, secret, b"base_nonce", context, 12)
    return enc, AESGCM(key).encrypt(base_nonce, plaintext, b"")


def envelope_info(metadata: dict[str, Any]) -> bytes:
    return INFO_PREFIX + canonical_json(metadata)


def seal_envelope(
    recipient: X25519PublicKey,
    metadata: dict[str, Any],
    payload: dict[str, Any],
    ephemeral: X25519PrivateKey | None = None,
) -> dict[str, Any]:
    """Seal a payload; `metadata["size"]` is filled in from the plaintext length."""
    plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    meta = dict(metadata, size=len(plaintext))
    enc, ciphertext = hpke_seal(recipient, envelope_info(meta), plaintext, ephemeral)
    return {
        "version": ENVELOPE_VERSION,
        "suite": SUITE,
        "kid": key_id(_raw(recipient)),
        "metadata": meta,
        "enc": b64url(enc),
        "ciphertext": b64url(ciphertext),
    }


def load_public_key(pem_path: str) -> X25519PublicKey:
    with open(pem_path, "rb") as handle:
        key = serialization.load_pem_public_key(handle.read())
    assert isinstance(key, X25519PublicKey)
    return key
