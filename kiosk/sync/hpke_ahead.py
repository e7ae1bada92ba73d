"""HPKE base mode (RFC 9180) for the sealed envelope's suite, with the key encapsulation done ahead.

DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + AES-256-GCM, single shot, exactly what `cryptography`'s
`hpke.Suite.encrypt` computes; the bureau opens the result with that library (tests check both
ways). What differs is when the work happens. The encapsulation (a fresh ephemeral key pair and
its Diffie-Hellman with the bureau's key: about 100 us, most of a seal) depends on neither the
message nor `info`, so the outbox asks for the next one just before its commit waits on fsync, a
helper thread makes it while the writer sleeps in the kernel, and the next seal is left with the
key schedule and AES-GCM. Each encapsulation is handed out once; at most one waits, in memory
only; a seal that finds none ready makes its own.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEM_ID, _KDF_ID, _AEAD_ID = 0x0020, 0x0001, 0x0002  # DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
_KEM_SUITE = b"KEM" + _KEM_ID.to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + _KEM_ID.to_bytes(2, "big") + _KDF_ID.to_bytes(2, "big") + _AEAD_ID.to_bytes(2, "big")
_NK, _NN, _NSECRET = 32, 12, 32
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
_BLOCK = 64  # SHA-256's block: HMAC pads its key to this


class _Hmac:
    """HMAC-SHA256 under one key, its padded key hashed once (RFC 2104): each MAC is then two
    hash copies, where hmac.digest sets the key up again for every message."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(hmac.trans_36))
        self._outer = hashlib.sha256(key.translate(hmac.trans_5C))

    def digest(self, msg: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


# HKDF-Extract with an empty salt uses HashLen zero bytes as the key (RFC 5869)
_ZERO_SALT = _Hmac(bytes(32))


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    mac = _Hmac(salt) if salt else _ZERO_SALT
    return mac.digest(b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: _Hmac, label: bytes, info: bytes, length: int) -> bytes:
    # HKDF-Expand for at most one SHA-256 block (every length here): T(1) = HMAC(prk, info || 0x01)
    assert length <= 32
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return prk.digest(labeled + b"\x01")[:length]


# mode_base has no PSK: its id hash is the same for every message
_PSK_ID_HASH = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")


@dataclass(frozen=True)
class Encapsulation:
    """One ephemeral key agreement, and the part of the key schedule that follows from it alone
    (KeySchedule's secret, set up as the HMAC key of the expansions)."""

    enc: bytes  # the ephemeral public key, sent in the clear
    shared_secret: bytes
    secret: _Hmac


def encapsulate(recipient: X25519PublicKey, recipient_raw: bytes | None = None) -> Encapsulation:
    """RFC 9180 Encap(): a fresh ephemeral key pair agreed with the recipient's key."""
    ephemeral = X25519PrivateKey.generate()
    dh = ephemeral.exchange(recipient)
    enc = ephemeral.public_key().public_bytes(*_RAW)
    kem_context = enc + (recipient_raw or recipient.public_bytes(*_RAW))
    eae_prk = _Hmac(_labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh))
    shared = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", kem_context, _NSECRET)
    return Encapsulation(enc, shared, _Hmac(_labeled_extract(_HPKE_SUITE, shared, b"secret", b"")))


def seal_parts(encapsulation: Encapsulation, plaintext: bytes, info: bytes) -> tuple[bytes, bytes]:
    """KeySchedule(mode_base, info) and Seal() with sequence number 0: (enc, ciphertext)."""
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + _PSK_ID_HASH + info_hash
    key = _labeled_expand(_HPKE_SUITE, encapsulation.secret, b"key", context, _NK)
    nonce = _labeled_expand(_HPKE_SUITE, encapsulation.secret, b"base_nonce", context, _NN)
    return encapsulation.enc, AESGCM(key).encrypt(nonce, plaintext, None)


def seal_with(encapsulation: Encapsulation, plaintext: bytes, info: bytes) -> bytes:
    """seal_parts as one string: enc || ciphertext, the form `cryptography` opens."""
    enc, ciphertext = seal_parts(encapsulation, plaintext, info)
    return enc + ciphertext


class Encapsulator:
    """Keeps at most one encapsulation for the next seal, made on a helper thread on request."""

    def __init__(self, recipient: X25519PublicKey) -> None:
        self._recipient = recipient
        self._recipient_raw = recipient.public_bytes(*_RAW)
        self._lock = threading.Lock()
        self._ready: Encapsulation | None = None
        # One token per request; a SimpleQueue wakes the helper with one C call, cheaper than
        # an Event (a condition variable under a lock) on the writer's way to its commit.
        self._wanted: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._asked = False  # a request is waiting for the helper
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<Encapsulator ready={self._ready is not None}>"

    def take(self) -> Encapsulation:
        """An encapsulation nobody else gets: the ready one, or a fresh one made here."""
        with self._lock:
            ready, self._ready = self._ready, None
        return ready if ready is not None else encapsulate(self._recipient, self._recipient_raw)

    def prepare(self) -> None:
        """Make the next one on the helper thread (the caller is about to block on I/O: the X25519
        work, which holds the interpreter lock, then runs while the caller sleeps in the kernel)."""
        with self._lock:
            if self._ready is not None or self._asked:
                return
            self._asked = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._fill, name="hpke-encap", daemon=True)
                self._thread.start()
        self._wanted.put(None)

    def _fill(self) -> None:
        while True:
            self._wanted.get()
            made = encapsulate(self._recipient, self._recipient_raw)
            with self._lock:
                self._asked = False
                if self._ready is None:
                    self._ready = made
