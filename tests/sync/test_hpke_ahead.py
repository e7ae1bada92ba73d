"""The kiosk's HPKE with the encapsulation made ahead, against `cryptography`'s implementation
(what the bureau simulator opens envelopes with): every message opens, a changed info, ciphertext
or key does not, and no ephemeral key is ever handed out twice, across threads too."""

from __future__ import annotations

import base64
import json
import os
import threading

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk.sync import hpke_ahead
from kiosk.sync.outbox import EnvelopeMeta
from kiosk.sync.seal import INFO_PREFIX, SUITE, BureauSealer, canonical_json


@pytest.fixture(scope="module")
def bureau() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def test_every_message_opens_with_the_library(bureau):
    enc = hpke_ahead.Encapsulator(bureau.public_key())
    for size in (0, 1, 15, 16, 17, 2048, 200_000):
        pt, info = os.urandom(size), os.urandom(size % 97)
        enc.prepare()
        sealed = hpke_ahead.seal_with(enc.take(), pt, info)
        assert SUITE.decrypt(sealed, bureau, info=info) == pt


def test_a_changed_info_ciphertext_or_key_does_not_open(bureau):
    sealed = hpke_ahead.seal_with(hpke_ahead.encapsulate(bureau.public_key()), b"payload", b"info")
    with pytest.raises(InvalidTag):
        SUITE.decrypt(sealed, bureau, info=b"inf0")
    with pytest.raises(InvalidTag):
        SUITE.decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]), bureau, info=b"info")
    with pytest.raises(InvalidTag):
        SUITE.decrypt(sealed, X25519PrivateKey.generate(), info=b"info")


def test_no_encapsulation_is_handed_out_twice_even_across_threads(bureau):
    enc = hpke_ahead.Encapsulator(bureau.public_key())
    seen: list[bytes] = []
    lock = threading.Lock()

    def take(n: int) -> None:
        for _ in range(n):
            enc.prepare()
            e = enc.take().enc
            with lock:
                seen.append(e)

    threads = [threading.Thread(target=take, args=(100,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 400 and len(set(seen)) == 400


def test_the_sealers_envelopes_open_with_the_library(bureau):
    sealer = BureauSealer(bureau.public_key())
    meta = EnvelopeMeta("pension_certification", "KIOSK0001-20261201-000001-X",
                        "6f1c1d7e-8d5a-4e0e-9a40-6f3f7c1e2a11", 1.8e9, "KIOSK-0001", True, 1, 2.5)

    def unb64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    for i in range(3):  # the first seal makes its own encapsulation, the next ones find one ready
        raw = sealer.seal(b'{"n":%d}' % i, meta)
        envelope = json.loads(raw)
        assert raw == canonical_json(envelope)  # written by hand, the canonical form byte for byte
        sealed = unb64(envelope["enc"]) + unb64(envelope["ciphertext"])
        info = INFO_PREFIX + canonical_json(envelope["metadata"])
        assert json.loads(SUITE.decrypt(sealed, bureau, info=info)) == {"n": i}
        sealer.prepare_next()


def test_the_prepadded_hmac_is_hmac_sha256():
    import hashlib
    import hmac
    for n in (0, 1, 31, 32, 63, 64, 65, 200):
        key, msg = os.urandom(n), os.urandom(n * 3 + 1)
        mac = hpke_ahead._Hmac(key)
        assert mac.digest(msg) == hmac.digest(key, msg, hashlib.sha256)
        assert mac.digest(b"") == hmac.digest(key, b"", hashlib.sha256)  # used twice: unchanged
