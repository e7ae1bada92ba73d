"""The PSAM (terminal security module) on the second vpcd slot.

Commands (PBOC-style; the SSC ones are not public): SELECT by AID D1 56 00 00 05 90;
INIT FOR DESCRYPT `80 1A <alg> 00 0B` + card ATR tail (8) + region BCD (3): derives the card key
(alg 01 = 3DES, 02 = SM4); DES CRYPT `80 FA 00 00 08` + challenge: answers the 16-byte cryptogram.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from simulators.card import apdu as A
from simulators.card import crypto
from simulators.card.personas import build_atr

log = logging.getLogger(__name__)

PSAM_AID = bytes.fromhex("D15600000590")


@dataclass
class Psam:
    keys: dict[int, bytes]
    label: str = "psam"
    corrupt: bool = False  # answer wrong cryptograms (a PSAM with the wrong key set)
    _selected: bool = False
    _session: tuple[int, bytes] | None = field(default=None, repr=False)

    def atr(self) -> bytes:
        return build_atr(b"PSAM-SSC", "T=0")

    def power(self, on: bool) -> None:
        self.reset()

    def reset(self) -> None:
        self._selected, self._session = False, None

    def apdu(self, raw: bytes) -> bytes:
        cmd = A.parse(raw)
        if cmd is None:
            return A.SW_WRONG_LENGTH
        if cmd.header == (0x00, 0xA4):
            self._selected = cmd.p1 == 0x04 and cmd.data == PSAM_AID
            self._session = None
            return A.SW_OK if self._selected else A.SW_FILE_NOT_FOUND
        if cmd.header == (0x80, 0x1A):
            if not self._selected:
                return A.SW_CONDITIONS
            if cmd.p1 not in self.keys:
                return A.SW_WRONG_P1P2
            if len(cmd.data) != 11:
                return A.SW_WRONG_LENGTH
            self._session = (cmd.p1, crypto.diversify(cmd.p1, self.keys[cmd.p1], cmd.data[:8], cmd.data[8:]))
            return A.SW_OK
        if cmd.header == (0x80, 0xFA):
            if self._session is None:
                return A.SW_CONDITIONS
            if len(cmd.data) not in (4, 8):
                return A.SW_WRONG_LENGTH
            alg, key = self._session
            out = crypto.cryptogram(alg, key, cmd.data)
            if self.corrupt:
                out = bytes((out[0] ^ 0x01,)) + out[1:]
            log.info("event=psam_cryptogram alg=%d corrupt=%s", alg, self.corrupt)
            return A.with_le(out, cmd.le)
        return A.SW_INS_UNKNOWN
