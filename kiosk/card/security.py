"""The security-module port (terminal authentication for PIN reload, card authentication) and its
PSAM adapter.

The PSAM sits in a second reader slot; this adapter only needs that slot's transmit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from kiosk.card.codec import encode_bcd
from kiosk.card.errors import MalformedReply, SecurityModuleError
from kiosk.hw import iso7816

log = logging.getLogger(__name__)

Transmit = Callable[[bytes], tuple[bytes, int]]

PSAM_AID = bytes.fromhex("D15600000590")
ALG_3DES, ALG_SM4 = 0x01, 0x02


class SecurityModule(Protocol):
    def terminal_cryptogram(self, challenge: bytes, card_atr: bytes, region_code: str, generation: int) -> bytes:
        """The cryptogram the card expects in EXTERNAL AUTHENTICATE for this challenge."""
        ...

    def card_is_genuine(self, card_number: str, region_code: str, generation: int, challenge: bytes,
                        cryptogram: bytes) -> bool:
        """Whether `cryptogram` is a genuine card's INTERNAL AUTHENTICATE answer to `challenge`."""
        ...


class PsamSecurityModule:
    """PSAM commands: SELECT by AID; INIT FOR DESCRYPT (80 1A) with the card's ATR tail and
    region code; DES CRYPT (80 FA) of the challenge. 3DES for generation 2, SM4 for 3."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit

    def __repr__(self) -> str:
        return "<PsamSecurityModule>"

    def _cmd(self, apdu: bytes, what: str) -> bytes:
        data, sw = iso7816.complete(self._transmit, apdu)
        if sw != 0x9000:
            log.warning("event=psam_refused step=%s sw=%04X", what, sw)
            raise SecurityModuleError(f"PSAM {what}: SW {sw:04X}")
        return data

    def card_is_genuine(self, card_number: str, region_code: str, generation: int, challenge: bytes,
                        cryptogram: bytes) -> bool:
        """INIT FOR DESCRYPT with the card-authentication key (80 1A <alg> 02: card number and
        region), then VERIFY (80 FC) challenge || cryptogram: 9000 genuine, 6300 not. The PSAM
        only checks with that key; it never computes a card's answer."""
        number = card_number.encode("ascii", errors="replace")
        if len(number) != 9:
            raise SecurityModuleError("card number is not 9 characters")
        self._cmd(bytes((0x00, 0xA4, 0x04, 0x00, len(PSAM_AID))) + PSAM_AID, "select")
        div = number + encode_bcd(region_code)[:3]
        alg = ALG_SM4 if generation >= 3 else ALG_3DES
        self._cmd(bytes((0x80, 0x1A, alg, 0x02, len(div))) + div, "init_card_auth")
        body = challenge + cryptogram
        _data, sw = iso7816.complete(self._transmit, bytes((0x80, 0xFC, 0x00, 0x00, len(body))) + body)
        if sw == 0x9000:
            return True
        if sw == 0x6300:
            return False
        log.warning("event=psam_refused step=card_auth sw=%04X", sw)
        raise SecurityModuleError(f"PSAM card auth: SW {sw:04X}")

    def terminal_cryptogram(self, challenge: bytes, card_atr: bytes, region_code: str, generation: int) -> bytes:
        if len(card_atr) < 8:
            raise SecurityModuleError("card ATR too short to diversify")
        self._cmd(bytes((0x00, 0xA4, 0x04, 0x00, len(PSAM_AID))) + PSAM_AID, "select")
        div = card_atr[-8:] + encode_bcd(region_code)[:3]
        alg = ALG_SM4 if generation >= 3 else ALG_3DES
        self._cmd(bytes((0x80, 0x1A, alg, 0x00, len(div))) + div, "init")
        out = self._cmd(bytes((0x80, 0xFA, 0x00, 0x00, len(challenge))) + challenge + b"\x10", "crypt")
        if len(out) != 16:
            raise MalformedReply(f"PSAM cryptogram of {len(out)} bytes")
        return out
