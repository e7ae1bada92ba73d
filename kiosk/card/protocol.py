"""The social security card application over any `transmit(apdu) -> (data, sw)` port.

Select by the GBK DDF name, read EF05/EF06 by tag, PIN verify/change, and PIN reload after
terminal authentication. Pure: no I/O besides the transmit it is given.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from kiosk.card import codec
from kiosk.card.errors import (
    BankOnlyCard,
    CardExpired,
    MalformedReply,
    MuteCard,
    NotSscCard,
    PinBlocked,
    TerminalAuthFailed,
    WrongPin,
)
from kiosk.card.model import CardIdentity, CardInfo, Holder
from kiosk.card.pin import pin_bcd
from kiosk.card.profile import RegionProfile, get_profile
from kiosk.card.security import SecurityModule
from kiosk.hw import iso7816
from kiosk.hw.errors import CardMute, ExchangeTimeout

log = logging.getLogger(__name__)

Transmit = Callable[[bytes], tuple[bytes, int]]

SSC_DDF_NAME = "sx1.sh.社会保障".encode("gbk")
BANK_AID = bytes.fromhex("A0000003330101 01".replace(" ", ""))
SFI_EF05, SFI_EF06 = 5, 6
# tag -> value length as the standard lays it out; a card that differs answers 6Cxx.
EF05_TAGS = {0x01: 16, 0x03: 4, 0x05: 4, 0x06: 4, 0x07: 9}
EF06_TAGS = {0x08: 18, 0x09: 30, 0x0A: 1, 0x4E: 20}
OPTIONAL_TAGS = {0x05, 0x0A, 0x4E}
SW_OK, SW_BLOCKED, SW_DATA_INVALIDATED = 0x9000, 0x6983, 0x6984
SW_NOT_FOUND = (0x6A82, 0x6A83)


def _is_valid_id(number: str) -> bool:
    try:
        from kiosk.domain.citizen_id import is_valid
    except ImportError:  # the domain helper is optional for this layer
        return len(number) == 18
    return is_valid(number)


class SscCard:
    """One social security card session. Methods raise kiosk.card.errors (and the reader's
    own errors for transport failures); they never return half-read values."""

    def __init__(self, transmit: Transmit, profile: RegionProfile | str = "national") -> None:
        self._raw = transmit
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.apdus = 0
        self.selected = False

    def __repr__(self) -> str:
        return f"<SscCard profile={self.profile.name} selected={self.selected} apdus={self.apdus}>"

    def _counted(self, apdu: bytes) -> tuple[bytes, int]:
        self.apdus += 1
        reply = self._raw(apdu)
        if (not isinstance(reply, tuple) or len(reply) != 2 or not isinstance(reply[0], (bytes, bytearray))
                or not isinstance(reply[1], int) or not 0 <= reply[1] <= 0xFFFF):
            raise MalformedReply("transport returned something other than (data, sw)")
        return bytes(reply[0]), reply[1]

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        """One command with 61xx/6Cxx resolved (the reader may already have done it)."""
        return iso7816.complete(self._counted, apdu)

    # --- application selection
    def _select(self, name: bytes) -> int:
        return self.send(bytes((0x00, 0xA4, 0x04, 0x00, len(name))) + name)[1]

    def select(self) -> None:
        """Select the SSC application; tell bank-only, unknown and mute cards apart."""
        try:
            sw = self._select(SSC_DDF_NAME)
        except (CardMute, ExchangeTimeout) as exc:
            raise MuteCard(str(exc)) from exc
        if sw == SW_OK:
            self.selected = True
            return
        if sw in SW_NOT_FOUND:
            if self._select(BANK_AID) == SW_OK:
                log.info("event=card_classified kind=bank_only")
                raise BankOnlyCard("SSC application missing, bank application present")
            raise NotSscCard(f"SSC application missing (SW {sw:04X})")
        raise NotSscCard(f"SELECT SSC answered SW {sw:04X}")

    # --- records
    def read_item(self, sfi: int, tag: int, size: int, optional: bool = False) -> bytes | None:
        """The value of the item `tag` in file `sfi`; None if optional and absent."""
        p2 = (sfi << 3) | self.profile.record_mode
        data, sw = self.send(bytes((0x00, 0xB2, tag, p2, (size + 2) & 0xFF)))
        if sw in SW_NOT_FOUND and optional:
            return None
        if sw != SW_OK:
            raise MalformedReply(f"READ RECORD {sfi}/{tag:02X}: SW {sw:04X}")
        return codec.parse_tlv(data, tag)

    def read_card_info(self) -> CardInfo:
        if not self.selected:
            self.select()
        items = {t: self.read_item(SFI_EF05, t, n, t in OPTIONAL_TAGS) for t, n in EF05_TAGS.items()}
        card_id = items[0x01] or b""
        if len(card_id) < 3:
            raise MalformedReply("card identification code too short")
        version = codec.ascii_text(items[0x03] or b"")
        if not version[:1].isdigit():
            raise MalformedReply("specification version does not start with a digit")
        number = codec.ascii_text(items[0x07] or b"")
        if not number:
            raise MalformedReply("blank card number")
        return CardInfo(
            region_code=codec.bcd_digits(card_id[:3]),
            card_id=card_id,
            spec_version=version,
            generation=int(version[0]),
            issue_date=codec.bcd_date(items[0x05] or b""),
            expiry_date=codec.bcd_date(items[0x06] or b""),
            card_number=number,
        )

    def read_holder(self, generation: int = 3) -> Holder:
        if not self.selected:
            self.select()
        id_raw = self.read_item(SFI_EF06, 0x08, EF06_TAGS[0x08]) or b""
        name_raw = self.read_item(SFI_EF06, 0x09, EF06_TAGS[0x09]) or b""
        sex_raw = self.read_item(SFI_EF06, 0x0A, 1, optional=True) or b""
        # tag 4E exists from the 3rd generation on; older cards are not asked (one APDU less).
        ext_raw = self.read_item(SFI_EF06, 0x4E, EF06_TAGS[0x4E], optional=True) if generation >= 3 else None
        id_number = codec.ascii_text(id_raw).upper()
        if len(id_number) != 18:
            raise MalformedReply(f"ID number of {len(id_number)} characters")
        name, basic, ext = codec.combine_name(name_raw, ext_raw)
        if not name:
            raise MalformedReply("blank name")
        sex = {b"1": "1", b"2": "2", b"\x01": "1", b"\x02": "2"}.get(bytes(sex_raw[:1]), "")
        return Holder(id_number, name, basic, ext, sex, _is_valid_id(id_number))

    def read_identity(self, today: dt.date | None = None) -> CardIdentity:
        """Select, EF05 and EF06. Pass `today` only when the clock is trusted: an untrusted
        clock must not turn a citizen away for an expiry it cannot judge."""
        start = self.apdus
        self.select()
        info = self.read_card_info()
        if today is not None and info.expired(today):
            log.info("event=card_classified kind=expired")
            raise CardExpired(info.expiry_date)  # type: ignore[arg-type]
        holder = self.read_holder(info.generation)
        log.info("event=identity_read gen=%d region=%s id=%r apdus=%d", info.generation, info.region_code,
                 holder, self.apdus - start)
        return CardIdentity(info, holder, self.apdus - start)

    # --- card authentication
    def internal_authenticate(self, challenge: bytes) -> bytes:
        """INTERNAL AUTHENTICATE (00 88 00 <kid> 08 challenge): the card's 16-byte cryptogram over
        the challenge under its card-authentication key. Judged by the PSAM and the bureau, never
        here: the kiosk holds no card key."""
        if len(challenge) != 8:
            raise ValueError("challenge must be 8 bytes")
        if not self.selected:
            self.select()
        apdu = bytes((0x00, 0x88, 0x00, self.profile.int_auth_key_id, len(challenge))) + challenge + b"\x10"
        data, sw = self.send(apdu)
        if sw != SW_OK or len(data) != 16:
            log.info("event=internal_auth_refused sw=%04X len=%d", sw, len(data))
            raise MalformedReply(f"INTERNAL AUTHENTICATE: SW {sw:04X}, {len(data)} bytes")
        return data

    # --- PIN
    def _pin_outcome(self, sw: int, what: str) -> None:
        if sw == SW_OK:
            return
        if sw >> 4 == 0x63C:
            left = sw & 0x0F
            log.info("event=pin_refused op=%s tries_left=%d", what, left)
            if left == 0:
                raise PinBlocked(retries=0)
            raise WrongPin(left, self.profile.retry_limit)
        if sw in (SW_BLOCKED, SW_DATA_INVALIDATED):
            log.info("event=pin_refused op=%s blocked=1", what)
            raise PinBlocked(retries=0)
        raise MalformedReply(f"{what}: SW {sw:04X}")

    def verify_pin(self, pin: str) -> None:
        """Raises WrongPin(retries_left=n) or PinBlocked(retries=0); returns when right."""
        body = pin_bcd(pin, self.profile.pin_length)
        self._pin_outcome(self.send(bytes((0x00, 0x20, 0x00, 0x00, len(body))) + body)[1], "verify")

    def pin_tries_left(self) -> int | None:
        """Tries left without spending one (empty VERIFY); None if the card does not say."""
        sw = self.send(bytes((0x00, 0x20, 0x00, 0x00)))[1]
        if sw >> 4 == 0x63C:
            return sw & 0x0F
        if sw in (SW_BLOCKED, SW_DATA_INVALIDATED):
            return 0
        return None

    def change_pin(self, old: str, new: str) -> None:
        """CHANGE PIN authorised by the old PIN (80 5E 01 00 07 old FF new)."""
        body = pin_bcd(old, self.profile.pin_length) + b"\xff" + pin_bcd(new, self.profile.pin_length)
        self._pin_outcome(self.send(bytes((0x80, 0x5E, 0x01, 0x00, len(body))) + body)[1], "change")
        log.info("event=pin_changed")

    def reload_pin(self, new: str, module: SecurityModule, atr: bytes, info: CardInfo) -> None:
        """Reset a forgotten PIN: GET CHALLENGE, the module's cryptogram, EXTERNAL AUTHENTICATE,
        then RELOAD PIN. The new PIN is sent only after the card accepted the terminal."""
        body = pin_bcd(new, self.profile.pin_length)
        challenge, sw = self.send(bytes((0x00, 0x84, 0x00, 0x00, 0x08)))
        if sw != SW_OK or len(challenge) != 8:
            raise MalformedReply(f"GET CHALLENGE: SW {sw:04X}, {len(challenge)} bytes")
        crypt = module.terminal_cryptogram(challenge, atr, info.region_code, info.generation)
        sw = self.send(bytes((0x00, 0x82, 0x00, self.profile.ext_auth_key_id, len(crypt))) + crypt)[1]
        if sw != SW_OK:
            log.warning("event=terminal_auth_refused sw=%04X", sw)
            raise TerminalAuthFailed(f"EXTERNAL AUTHENTICATE: SW {sw:04X}")
        sw = self.send(bytes((0x80, 0x5E, 0x00, 0x00, len(body))) + body)[1]
        if sw != SW_OK:
            raise MalformedReply(f"RELOAD PIN: SW {sw:04X}")
        log.info("event=pin_reloaded")
