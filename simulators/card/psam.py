"""The PSAM (terminal security module) on the second vpcd slot.

Commands (PBOC-style; the SSC ones are not public): SELECT by AID D1 56 00 00 05 90;
INIT FOR DESCRYPT `80 1A <alg> 00 0B` + card ATR tail (8) + region BCD (3): derives the card key
(alg 01 = 3DES, 02 = SM4); DES CRYPT `80 FA 00 00 08` + challenge: answers the 16-byte cryptogram.

Card authentication (a card's INTERNAL AUTHENTICATE answer): INIT `80 1A <alg> 02 0C` + card number
(9 ASCII) + region BCD (3) derives the card's card-authentication key from the card-auth master;
VERIFY `80 FC 00 00 18` + challenge (8) + cryptogram (16) answers 9000 when the card holds that key,
63 00 when not. That key never computes a cryptogram (DES CRYPT answers 69 85): whoever holds the
kiosk's PSAM cannot make a card's answer with it.
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
    auth_keys: dict[int, bytes] = field(default_factory=dict, repr=False)
    label: str = "psam"
    corrupt: bool = False  # answer wrong cryptograms (a PSAM with the wrong key set)
    _selected: bool = False
    _session: tuple[int, bytes] | None = field(default=None, repr=False)
    _verify_only: bool = False

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
            if cmd.p2 == 0x02:  # card authentication: card number + region
                if cmd.p1 not in self.auth_keys:
                    return A.SW_WRONG_P1P2
                if len(cmd.data) != 12:
                    return A.SW_WRONG_LENGTH
                number = cmd.data[:9].decode("ascii", errors="replace")
                key = crypto.diversify_card_auth(cmd.p1, self.auth_keys[cmd.p1], number, cmd.data[9:])
                self._session, self._verify_only = (cmd.p1, key), True
                return A.SW_OK
            if cmd.p1 not in self.keys or cmd.p2 != 0x00:
                return A.SW_WRONG_P1P2
            if len(cmd.data) != 11:
                return A.SW_WRONG_LENGTH
            self._session = (cmd.p1, crypto.diversify(cmd.p1, self.keys[cmd.p1], cmd.data[:8], cmd.data[8:]))
            self._verify_only = False
            return A.SW_OK
        if cmd.header == (0x80, 0xFC):
            if self._session is None or not self._verify_only:
                return A.SW_CONDITIONS
            if len(cmd.data) != 24:
                return A.SW_WRONG_LENGTH
            (alg, key), self._session = self._session, None  # one check per INIT
            # a PSAM with the wrong key set (corrupt) finds no card genuine
            good = not self.corrupt and crypto.cryptogram(alg, key, cmd.data[:8]) == cmd.data[8:]
            log.info("event=psam_card_auth alg=%d genuine=%s corrupt=%s", alg, good, self.corrupt)
            return A.SW_OK if good else A.SW_AUTH_FAILED
        if cmd.header == (0x80, 0xFA):
            if self._session is None or self._verify_only:
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
