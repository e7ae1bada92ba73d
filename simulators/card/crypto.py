"""Card keys shared by the emulated cards and the emulated PSAM.

Our own scheme in the spirit of the public descriptions (the exact APDUs are not public):
- terminal authentication (EXTERNAL AUTHENTICATE, for PIN reload): card key = ECB(master,
  ATR tail 8 || region BCD 3 || 80 00..);
- card authentication (INTERNAL AUTHENTICATE, the card proves it is genuine): card key =
  ECB(card-auth master, card number 9 ASCII || region BCD 3 || 80 00..), under a master key of
  its own that the bureau also holds (docs/card-authentication.md);
cryptogram = ECB(card key, challenge 8 || 80 00..); 3DES for generation 1-2, SM4 for
generation 3. Keys and cryptograms are 16 bytes.
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


def diversify_card_auth(alg: int, master: bytes, card_number: str, region_bcd: bytes) -> bytes:
    """The card's INTERNAL AUTHENTICATE key: by card number and region, which the bureau knows
    without ever seeing the card (unlike the ATR)."""
    return _ecb(alg, master, _pad16(card_number.encode("ascii")[:9] + region_bcd[:3]))
