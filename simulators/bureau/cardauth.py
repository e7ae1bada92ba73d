"""Card authentication at the bureau: is this cryptogram the answer of a genuine card to this
challenge? The bureau holds the issuer's card-authentication master keys; a card's key is derived
from them by card number and region (docs/card-authentication.md), so the bureau needs nothing
from the card but its answer. Written from that note, independently of the card emulator.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ALG_3DES, ALG_SM4 = 1, 2
CHALLENGE_BYTES = 8
CHALLENGE_TTL_S = 120  # from issue to verify: one card read and one round trip, with room
CARD_AUTH_MAX_AGE_S = 30 * 60  # a card_auth_id serves queries for one citizen session


def _block(alg: int, key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 method 2 padding (80 00..) to 16 bytes, then ECB."""
    padded = data + b"\x80" + b"\x00" * (-(len(data) + 1) % 16)
    cipher = TripleDES(key) if alg == ALG_3DES else algorithms.SM4(key)
    enc = Cipher(cipher, modes.ECB()).encryptor()
    return enc.update(padded) + enc.finalize()


def algorithm(generation: int) -> int:
    """3DES for 1st and 2nd generation cards, SM4 from the 3rd."""
    return ALG_SM4 if generation >= 3 else ALG_3DES


def card_key(alg: int, master: bytes, card_number: str, region_code: str) -> bytes:
    """The card's INTERNAL AUTHENTICATE key: card number (9 ASCII) || region (3 bytes BCD)."""
    return _block(alg, master, card_number.encode("ascii")[:9] + bytes.fromhex(region_code[:6]))


def genuine(masters: dict[int, bytes], generation: int, card_number: str, region_code: str,
            challenge: bytes, cryptogram: bytes) -> bool:
    alg = algorithm(generation)
    master = masters.get(alg)
    if master is None or len(challenge) != CHALLENGE_BYTES or len(cryptogram) != 16:
        return False
    want = _block(alg, card_key(alg, master, card_number, region_code), challenge)
    return hmac.compare_digest(want, cryptogram)
