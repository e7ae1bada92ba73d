"""Shared pieces of the sync tests: a bureau key pair, an independent opener, sample payloads."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests import envelope_util as eu

# Personas of simulators/data/personas.toml (the simulator refuses unknown citizens).
ID_NUMBER = "110105195803120029"
NAME = "王秀英"
CARD = "A00000001"
UNKNOWN_ID = "110105196001010033"  # valid check character, nobody at the bureau


def open_envelope(private: X25519PrivateKey, envelope: dict[str, Any]) -> bytes:
    """RFC 9180 base-mode open written from docs/sealed-envelope.md (not with hpke.Suite)."""
    enc = eu.b64url_decode(envelope["enc"])
    ct = eu.b64url_decode(envelope["ciphertext"])
    pk_r = private.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)
    dh = private.exchange(X25519PublicKey.from_public_bytes(enc))
    eae = eu._labeled_extract(eu.KEM_SUITE_ID, b"", b"eae_prk", dh)
    shared = eu._labeled_expand(eu.KEM_SUITE_ID, eae, b"shared_secret", enc + pk_r, 32)
    info = eu.envelope_info(envelope["metadata"])
    psk = eu._labeled_extract(eu.HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    ih = eu._labeled_extract(eu.HPKE_SUITE_ID, b"", b"info_hash", info)
    ctx = b"\x00" + psk + ih
    secret = eu._labeled_extract(eu.HPKE_SUITE_ID, shared, b"secret", b"")
    key = eu._labeled_expand(eu.HPKE_SUITE_ID, secret, b"key", ctx, 32)
    nonce = eu._labeled_expand(eu.HPKE_SUITE_ID, secret, b"base_nonce", ctx, 12)
    return AESGCM(key).decrypt(nonce, ct, b"")


def jpeg_bytes(seed: int = 0, size: int = 160) -> bytes:
    """A real JPEG (noise, so it does not compress to nothing)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def card_pin_offline(card: str = CARD) -> dict[str, Any]:
    """card_pin as a kiosk without the bureau makes it: the card's answer to a fresh challenge of
    its own, which the bureau verifies on arrival (docs/card-authentication.md)."""
    from tests.bureau_harness import offline_proof

    return {"method": "card_pin", "card_number": card, "card_auth": offline_proof(card)}


def loss_report(card: str = CARD, id_number: str = ID_NUMBER, name: str = NAME) -> dict[str, Any]:
    return {"citizen": {"id_number": id_number, "name": name},
            "data": {"card_number": card, "loss_type": "temporary",
                     "assurance": card_pin_offline(card)},
            "pictures": []}


def certification(pictures: list[bytes], id_number: str = ID_NUMBER,
                  name: str = NAME) -> dict[str, Any]:
    """A pension certification made offline: four liveness pictures, judged later."""
    return {"citizen": {"id_number": id_number, "name": name},
            "data": {"residence": "local", "on_behalf_of": None,
                     "liveness": {"passed": True, "challenge": "mouth_open_x3",
                                  "duration_ms": 6400},
                     "assurance": {"method": "none"}},
            "pictures": [{"role": f"liveness_{i + 1}", "jpeg_b64": base64.b64encode(p).decode()}
                         for i, p in enumerate(pictures)]}


def decode(blob: bytes) -> dict[str, Any]:
    return json.loads(blob)


def card_application(photo: bytes, card: str = CARD, id_number: str = ID_NUMBER,
                     name: str = NAME) -> dict[str, Any]:
    """A card application: a form plus one small card photo (about 2 KB in all)."""
    return {"citizen": {"id_number": id_number, "name": name},
            "data": {"outlet_id": "ICBC-110105-01", "reason": "replacement",
                     "phone": "138 0000 0000",
                     "assurance": card_pin_offline(card)},
            "pictures": [{"role": "card_photo", "jpeg_b64": base64.b64encode(photo).decode()}]}
