"""Terminal authentication keys shared by the emulated cards and the emulated PSAM.

Our own scheme in the spirit of the public descriptions (the exact APDUs are not public):
card key = ECB(master, ATR tail 8 || region BCD 3 || 80 00..), cryptogram = ECB(card key,
challenge 8 || 80 00..); 3DES for generation 1-2, SM4 for generation 3. Both 16 bytes.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ALG_3DES, ALG_SM4 = 1, 2


def _pad16(data: bytes) -> bytes:
    out = data + b"\x80"
    return out + b"\x00" * (-len(out) % 16)


def _ecb(alg: int, key: bytes, data: bytes) -> bytes:
    cipher = TripleDES(key) if alg == ALG_3DES else algorithms.SM4(key)
    enc = Cipher(cipher, modes.ECB()).encryptor()
    return enc.update(data) + enc.finalize()


def diversify(alg: int, master: bytes, atr_tail: bytes, region_bcd: bytes) -> bytes:
    """The card's own key from the issuer master key and the card's diversification data."""
    return _ecb(alg, master, _pad16(atr_tail[-8:] + region_bcd[:3]))


def cryptogram(alg: int, card_key: bytes, challenge: bytes) -> bytes:
    return _ecb(alg, card_key, _pad16(challenge))
