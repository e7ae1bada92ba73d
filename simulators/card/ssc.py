"""The social security card chip: SSC application (EF05/EF06), PIN, terminal authentication,
and the bank application that shares the chip.

Behaviour follows REFERENCE.md; where the public facts are uncertain (tag 4E, PIN reload APDU)
the choice is written down here so that the kiosk is tested against a stated behaviour.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from simulators.card import apdu as A
from simulators.card import crypto
from simulators.card.personas import CardFacts, StateStore

log = logging.getLogger(__name__)

SSC_DDF_NAME = "sx1.sh.社会保障".encode("gbk")
BANK_AID = bytes.fromhex("A0000003330101 01".replace(" ", ""))
SFI_EF05, SFI_EF06 = 5, 6
SFI_BANK = 1
NAME_LEN, NAME_EXT_LEN = 30, 20


def tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag, len(value))) + value


def _fixed(value: bytes, size: int) -> bytes:
    return value[:size].ljust(size, b"\x00")


def name_fields(name: str, basic_override: str = "") -> tuple[bytes, bytes | None]:
    """Tags 09 and 4E for a name. Long GBK names overflow into 4E (continuation); names with
    characters outside GBK keep a GBK stand-in in 09 and the whole name (GB18030) in 4E."""
    try:
        encoded = name.encode("gbk")
    except UnicodeEncodeError:
        basic = (basic_override or name).encode("gbk", errors="replace")
        return _fixed(basic, NAME_LEN), _fixed(name.encode("gb18030"), NAME_EXT_LEN)
    if len(encoded) <= NAME_LEN:
        return _fixed(encoded, NAME_LEN), None
    cut = 0
    for ch in name:  # split on a character boundary
        size = len(ch.encode("gbk"))
        if cut + size > NAME_LEN:
            break
        cut += size
    return _fixed(encoded[:cut], NAME_LEN), _fixed(encoded[cut:], NAME_EXT_LEN)


@dataclass
class _Volatile:
    """What a reset or power cycle clears."""

    selected: str = "mf"  # mf / ssc / bank
    pending: bytes | None = None  # data waiting for GET RESPONSE
    challenge: bytes | None = None
    authenticated: bool = False
    pin_ok: bool = False


@dataclass
class SscCard:
    facts: CardFacts
    store: StateStore
    v: _Volatile = field(default_factory=_Volatile)

    @property
    def label(self) -> str:
        return self.facts.persona

    def atr(self) -> bytes:
        return self.facts.atr

    def power(self, on: bool) -> None:
        self.v = _Volatile()

    def reset(self) -> None:
        self.v = _Volatile()

    # --- records
    def _ef05(self) -> dict[int, bytes]:
        f = self.facts
        return {
            0x01: f.card_id,
            0x03: f.spec_version.encode("ascii")[:4].ljust(4, b"0"),
            0x04: _fixed(f.init_org, 12),
            0x05: A.bcd(f.issue_date),
            0x06: A.bcd(f.expiry_date),
            0x07: f.card_number.encode("ascii"),
        }

    def _ef06(self) -> dict[int, bytes]:
        f = self.facts
        name, ext = name_fields(f.name, f.name_basic)
        items = {
            0x08: f.id_number.encode("ascii"),
            0x09: name,
            0x0A: f.sex.encode("ascii"),
            0x0B: A.bcd(f"{f.ethnicity:02d}"),
            0x0C: A.bcd(f.id_number[:6]),
            0x0D: A.bcd(f.id_number[6:14]),
        }
        if ext is not None:
            items[0x4E] = ext
        elif f.generation >= 3:
            items[0x4E] = b"\x00" * NAME_EXT_LEN  # present but unused on 3rd-generation cards
        return items

    # --- dispatch
    def apdu(self, raw: bytes) -> bytes:
        cmd = A.parse(raw)
        if cmd is None:
            return A.SW_WRONG_LENGTH
        if cmd.ins != 0xC0:
            self.v.pending = None  # GET RESPONSE only follows the command that produced it
        handler = {
            (0x00, 0xA4): self._select,
            (0x00, 0xC0): self._get_response,
            (0x00, 0xB2): self._read_record,
            (0x00, 0x20): self._verify,
            (0x80, 0x5E): self._change_or_reload,
            (0x00, 0x84): self._get_challenge,
            (0x00, 0x82): self._external_auth,
            (0x00, 0x88): self._internal_auth,
        }.get(cmd.header)
        if handler is None:
            return A.SW_CLA_UNKNOWN if cmd.cla not in (0x00, 0x80) else A.SW_INS_UNKNOWN
        reply = handler(cmd)
        log.debug("event=apdu persona=%s ins=%02X sw=%s", self.label, cmd.ins, reply[-2:].hex())
        return reply

    def _select(self, cmd: A.Command) -> bytes:
        if cmd.p1 == 0x00 and cmd.data in (b"\x3f\x00", b""):
            self.v.selected = "mf"
            return A.SW_OK
        if cmd.p1 != 0x04:
            return A.SW_WRONG_P1P2
        if cmd.data == SSC_DDF_NAME and self.facts.ssc_app:
            self.v.selected = "ssc"
            fci = tlv(0x6F, tlv(0x84, SSC_DDF_NAME) + tlv(0xA5, bytes.fromhex("9F0801029F0C03") + b"SSC"))
        elif cmd.data == BANK_AID and self.facts.bank_app:
            self.v.selected = "bank"
            fci = tlv(0x6F, tlv(0x84, BANK_AID) + tlv(0xA5, tlv(0x50, b"DEBIT")))
        else:
            return A.SW_FILE_NOT_FOUND
        if self.facts.answer_61xx:
            # T=0 style: the FCI waits for GET RESPONSE.
            self.v.pending = fci
            return bytes((0x61, len(fci)))
        return A.with_le(fci, cmd.le)

    def _get_response(self, cmd: A.Command) -> bytes:
        if self.v.pending is None:
            return A.SW_CONDITIONS
        data = self.v.pending
        reply = A.with_le(data, cmd.le)
        if reply[-2:] == A.SW_OK:
            self.v.pending = None
        return reply

    def _read_record(self, cmd: A.Command) -> bytes:
        sfi, mode = cmd.p2 >> 3, cmd.p2 & 0x07
        if mode not in (0, 4):  # records of this card are identified by their tag
            return A.SW_WRONG_P1P2
        if self.v.selected == "bank" and sfi == SFI_BANK and cmd.p1 == 1:
            pan = A.bcd(self.facts.bank_pan)
            return A.with_le(tlv(0x70, tlv(0x5A, pan)), cmd.le)
        if self.v.selected != "ssc":
            return A.SW_CONDITIONS
        files = {SFI_EF05: self._ef05, SFI_EF06: self._ef06}
        if sfi not in files:
            return A.SW_FILE_NOT_FOUND
        value = files[sfi]().get(cmd.p1)
        if value is None:
            return A.SW_RECORD_NOT_FOUND
        return A.with_le(tlv(cmd.p1, value), cmd.le)

    # --- PIN
    def _check_pin(self, given: str) -> bytes | None:
        """None if right; otherwise the status word to answer. Counts a wrong try."""
        state = self.store.get(self.facts)
        if state.tries_left <= 0:
            return A.SW_BLOCKED
        if given == state.pin:
            self.store.put(self.facts, state.pin, self.facts.retry_limit)
            return None
        left = state.tries_left - 1
        self.store.put(self.facts, state.pin, left)
        log.info("event=pin_wrong persona=%s tries_left=%d", self.label, left)
        return bytes((0x63, 0xC0 | left))

    def _verify(self, cmd: A.Command) -> bytes:
        if cmd.p1 != 0 or cmd.p2 != 0:
            return A.SW_WRONG_P1P2
        if not cmd.data:  # empty VERIFY: ask how many tries are left
            left = self.store.get(self.facts).tries_left
            return A.SW_BLOCKED if left <= 0 else bytes((0x63, 0xC0 | left))
        pin = A.pin_from_bcd(cmd.data)
        if pin is None:
            return A.SW_WRONG_DATA if len(cmd.data) == 3 else A.SW_WRONG_LENGTH
        sw = self._check_pin(pin)
        self.v.pin_ok = sw is None
        return sw or A.SW_OK

    def _change_or_reload(self, cmd: A.Command) -> bytes:
        if cmd.p1 == 0x01:  # CHANGE PIN: old (3 BCD) FF new (3 BCD), authorised by the old PIN
            if len(cmd.data) != 7 or cmd.data[3] != 0xFF:
                return A.SW_WRONG_LENGTH if len(cmd.data) != 7 else A.SW_WRONG_DATA
            old, new = A.pin_from_bcd(cmd.data[:3]), A.pin_from_bcd(cmd.data[4:])
            if old is None or new is None:
                return A.SW_WRONG_DATA
            sw = self._check_pin(old)
            if sw is not None:
                return sw
            self.store.put(self.facts, new, self.facts.retry_limit)
            log.info("event=pin_changed persona=%s", self.label)
            return A.SW_OK
        if cmd.p1 == 0x00:  # RELOAD PIN: new PIN, only after EXTERNAL AUTHENTICATE in this session
            if not self.v.authenticated:
                return A.SW_SECURITY
            new = A.pin_from_bcd(cmd.data)
            if new is None:
                return A.SW_WRONG_DATA
            self.v.authenticated = False
            self.store.put(self.facts, new, self.facts.retry_limit)
            log.info("event=pin_reloaded persona=%s", self.label)
            return A.SW_OK
        return A.SW_WRONG_P1P2

    # --- terminal authentication
    def _get_challenge(self, cmd: A.Command) -> bytes:
        if cmd.le not in (4, 8):
            return A.SW_WRONG_LENGTH
        self.v.challenge = os.urandom(cmd.le)
        return self.v.challenge + A.SW_OK

    def _external_auth(self, cmd: A.Command) -> bytes:
        challenge, self.v.challenge = self.v.challenge, None  # one try per challenge
        if challenge is None:
            return A.SW_CONDITIONS
        if len(cmd.data) != 16:
            return A.SW_WRONG_LENGTH
        f = self.facts
        alg = crypto.ALG_SM4 if f.generation >= 3 else crypto.ALG_3DES
        key = crypto.diversify(alg, f.master_key(alg), f.atr, f.card_id[:3])
        if cmd.data != crypto.cryptogram(alg, key, challenge):
            log.info("event=external_auth_failed persona=%s", self.label)
            return A.SW_AUTH_FAILED
        self.v.authenticated = True
        return A.SW_OK

    # --- card authentication
    def _internal_auth(self, cmd: A.Command) -> bytes:
        """INTERNAL AUTHENTICATE `00 88 00 <kid> 08` + the terminal's challenge: the card proves
        it holds its card-authentication key (crypto.diversify_card_auth) by the cryptogram."""
        if self.v.selected != "ssc":
            return A.SW_CONDITIONS
        if cmd.p1 != 0x00 or cmd.p2 not in (0x00, 0x01):
            return A.SW_WRONG_P1P2
        if len(cmd.data) not in (4, 8):
            return A.SW_WRONG_LENGTH
        f = self.facts
        alg = crypto.ALG_SM4 if f.generation >= 3 else crypto.ALG_3DES
        key = crypto.diversify_card_auth(alg, f.card_auth_master(alg), f.card_number, f.card_id[:3])
        log.info("event=internal_auth persona=%s", self.label)
        return A.with_le(crypto.cryptogram(alg, key, cmd.data), cmd.le)
