"""kiosk.card against an in-test fake transmit: exact APDU bytes, 61xx/6Cxx, malformed replies,
PIN outcomes and rules, tag 4E readings, and property tests on the decoders."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.card import codec
from kiosk.card.errors import (
    BankOnlyCard,
    CardExpired,
    MalformedReply,
    MuteCard,
    NotSscCard,
    PinBlocked,
    PinFormatError,
    TerminalAuthFailed,
    WrongPin,
)
from kiosk.card.pin import new_pin_problem
from kiosk.card.protocol import SscCard
from kiosk.hw.errors import ExchangeTimeout

SELECT_SSC = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
SELECT_BANK = bytes.fromhex("00A4040008A000000333010101")
ID = "11010519491231002X"


def item(tag: int, value: bytes) -> bytes:
    return bytes((tag, len(value))) + value


RECORDS = {
    (5, 0x01): item(0x01, bytes.fromhex("110105D15600000500000000000000A1")),
    (5, 0x03): item(0x03, b"3.00"),
    (5, 0x05): item(0x05, bytes.fromhex("20190520")),
    (5, 0x06): item(0x06, bytes.fromhex("20290520")),
    (5, 0x07): item(0x07, b"A00000001"),
    (6, 0x08): item(0x08, ID.encode()),
    (6, 0x09): item(0x09, "张建国".encode("gbk").ljust(30, b"\x00")),
    (6, 0x0A): item(0x0A, b"1"),
    (6, 0x4E): item(0x4E, b"\x00" * 20),
}


class FakeCard:
    """A scripted card: records by tag, strict Le (6Cxx), optional 61xx on SELECT."""

    def __init__(self, records=RECORDS, ssc=True, answer_61xx=False, pin="123456", tries=3):
        self.records, self.ssc, self.answer_61xx = dict(records), ssc, answer_61xx
        self.pin, self.tries, self.sent, self.pending = pin, tries, [], None

    def __call__(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        ins = apdu[1]
        if apdu == SELECT_SSC:
            if not self.ssc:
                return b"", 0x6A82
            if self.answer_61xx:
                self.pending = b"\x6f\x03\x84\x01\x00"
                return b"", 0x6105
            return b"", 0x9000
        if apdu == SELECT_BANK:
            return b"", 0x9000
        if ins == 0xC0 and self.pending:
            data, self.pending = self.pending, None
            return data, 0x9000
        if ins == 0xB2:
            rec = self.records.get((apdu[3] >> 3, apdu[2]))
            if rec is None:
                return b"", 0x6A83
            if apdu[4] != len(rec):
                return b"", 0x6C00 | len(rec)
            return rec, 0x9000
        if ins == 0x20:
            given_pin = apdu[5:8].hex()
            if self.tries == 0:
                return b"", 0x6983
            if given_pin == self.pin:
                self.tries = 3
                return b"", 0x9000
            self.tries -= 1
            return b"", 0x63C0 | self.tries
        return b"", 0x6D00


def test_identity_read_sends_exact_apdus():
    card = FakeCard()
    ident = SscCard(card).read_identity(dt.date(2026, 1, 1))
    assert card.sent[0] == SELECT_SSC
    assert card.sent[1] == bytes.fromhex("00B2012C12")  # tag 01 of EF05, Le = 2 + 16
    assert bytes.fromhex("00B2072C0B") in card.sent
    assert bytes.fromhex("00B2083414") in card.sent
    assert ident.holder.name == "张建国" and ident.holder.id_number == ID and ident.holder.id_number_valid
    assert ident.info.generation == 3 and ident.info.region_code == "110105"
    assert ident.info.expiry_date == dt.date(2029, 5, 20)
    assert ident.apdus == 10
    assert "张建国" not in repr(ident) and ID not in repr(ident)  # masked in logs


def test_61xx_on_select_is_followed_by_get_response():
    card = FakeCard(answer_61xx=True)
    SscCard(card).select()
    assert card.sent[1] == bytes.fromhex("00C0000005")


def test_6cxx_resends_with_the_right_le():
    records = dict(RECORDS)
    records[(5, 0x07)] = item(0x07, b"A0000000123")  # an 11-character card number
    card = FakeCard(records)
    assert SscCard(card).read_card_info().card_number == "A0000000123"
    assert bytes.fromhex("00B2072C0D") in card.sent


def test_bank_only_and_unknown_cards():
    with pytest.raises(BankOnlyCard):
        SscCard(FakeCard(ssc=False)).select()

    def nothing(apdu: bytes) -> tuple[bytes, int]:
        return b"", 0x6A82

    with pytest.raises(NotSscCard) as info:
        SscCard(nothing).select()
    assert not isinstance(info.value, BankOnlyCard)


def test_silent_card_is_mute():
    def silent(apdu: bytes) -> tuple[bytes, int]:
        raise ExchangeTimeout("select")

    with pytest.raises(MuteCard):
        SscCard(silent).read_identity()


def test_expiry_judged_only_with_trusted_clock():
    records = dict(RECORDS)
    records[(5, 0x06)] = item(0x06, bytes.fromhex("20200101"))
    with pytest.raises(CardExpired):
        SscCard(FakeCard(records)).read_identity(dt.date(2026, 1, 1))
    assert SscCard(FakeCard(records)).read_identity(None).info.expiry_date == dt.date(2020, 1, 1)


@pytest.mark.parametrize("reply", [
    (b"", 0x9000),  # empty
    (b"\x07", 0x9000),  # only a tag
    (b"\x08\x09A00000001", 0x9000),  # wrong tag
    (b"\x07\x09A0000", 0x9000),  # truncated value
    (b"\x07\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09", 0x9000),  # not printable
    (b"", 0x6F00),  # unexpected status
    ("not bytes", 0x9000),  # a broken transport
    (b"", 0x1_0000),  # status word out of range
])
def test_malformed_replies(reply):
    def transmit(apdu: bytes):
        if apdu == SELECT_SSC:
            return b"", 0x9000
        return reply

    with pytest.raises(MalformedReply):
        SscCard(transmit).read_card_info()


def test_pin_outcomes():
    card = FakeCard(pin="802514")
    ssc = SscCard(card)
    ssc.verify_pin("802514")
    assert card.sent[-1] == bytes.fromhex("0020000003802514")
    with pytest.raises(WrongPin) as info:
        ssc.verify_pin("111111")
    assert info.value.retries_left == 2 and info.value.retry_limit == 3
    for _ in range(1):
        with pytest.raises(WrongPin):
            ssc.verify_pin("111111")
    with pytest.raises(PinBlocked) as blocked:
        ssc.verify_pin("111111")  # 63C0: blocked on this try
    assert blocked.value.retries == 0
    with pytest.raises(PinBlocked):
        ssc.verify_pin("802514")  # 6983 from now on


@pytest.mark.parametrize("pin", ["12345", "1234567", "12a456", "１２３４５６", ""])
def test_bad_pin_format_never_reaches_the_card(pin):
    card = FakeCard()
    with pytest.raises(PinFormatError):
        SscCard(card).verify_pin(pin)
    assert card.sent == []


def test_change_pin_bytes():
    sent = []

    def transmit(apdu: bytes):
        sent.append(apdu)
        return b"", 0x9000

    SscCard(transmit).change_pin("123456", "802514")
    assert sent == [bytes.fromhex("805E010007123456FF802514")]


def test_reload_refused_cryptogram_writes_nothing():
    sent = []

    def transmit(apdu: bytes):
        sent.append(apdu)
        if apdu[1] == 0x84:
            return bytes(range(8)), 0x9000
        if apdu[1] == 0x82:
            return b"", 0x6300
        return b"", 0x9000

    class Module:
        def terminal_cryptogram(self, challenge, atr, region, generation):
            assert challenge == bytes(range(8)) and region == "110105" and generation == 3
            return b"\x11" * 16

    info = SscCard(FakeCard()).read_card_info()
    with pytest.raises(TerminalAuthFailed):
        SscCard(transmit).reload_pin("802514", Module(), b"\x3b" * 10, info)
    assert [a[1] for a in sent] == [0x84, 0x82]  # no RELOAD PIN was sent
    assert sent[1] == bytes.fromhex("0082000110") + b"\x11" * 16


@pytest.mark.parametrize("pin,problem", [
    ("802514", None), ("111111", "pin.problem.all_equal"), ("123456", "pin.problem.straight_run"),
    ("654321", "pin.problem.straight_run"), ("491231", "pin.problem.in_id_number"),
    ("12345", "pin.problem.format"), ("12345a", "pin.problem.format"),
    # the domain's rules, now the card's too: runs wrap 9 -> 0, well-known PINs, repeated blocks
    ("890123", "pin.problem.straight_run"), ("210987", "pin.problem.straight_run"),
    ("147258", "pin.problem.well_known"), ("520520", "pin.problem.well_known"),
    ("373737", "pin.problem.repeated_block"), ("649649", "pin.problem.repeated_block"),
])
def test_new_pin_rules(pin, problem):
    assert new_pin_problem(pin, ID) == problem


# --- tag 4E: both readings
def test_rare_character_name_in_4e_replaces_the_gbk_stand_in():
    basic = "陈?".encode("gbk").ljust(30, b"\x00")
    ext = "陈𠈌".encode("gb18030").ljust(20, b"\x00")
    assert codec.combine_name(basic, ext) == ("陈𠈌", "陈?", "陈𠈌")


def test_long_name_continues_in_4e():
    name = "买买提·艾力·阿不都热合曼·司马义"
    raw = name.encode("gbk")
    assert codec.combine_name(raw[:30], raw[30:].ljust(20, b"\x00"))[0] == name


def test_blank_4e_is_ignored():
    assert codec.combine_name("赵磊".encode("gbk").ljust(30, b"\0"), b"\0" * 20) == ("赵磊", "赵磊", None)


# --- property tests: decoders return a right value or MalformedReply, never anything else
@given(st.binary(max_size=40), st.integers(0, 255))
def test_tlv_never_crashes(data, tag):
    try:
        value = codec.parse_tlv(data, tag)
    except MalformedReply:
        return
    assert data[0] == tag and value in data


@given(st.integers(0, 255), st.binary(max_size=127), st.integers(0, 127))
def test_tlv_round_trip_and_truncation(tag, value, cut):
    whole = bytes((tag, len(value))) + value
    assert codec.parse_tlv(whole, tag) == value
    if cut < len(whole):
        with pytest.raises(MalformedReply):
            codec.parse_tlv(whole[:cut], tag)


@given(st.binary(max_size=6))
def test_bcd_date_never_crashes(raw):
    try:
        date = codec.bcd_date(raw)
    except MalformedReply:
        return
    assert date is None or raw.hex() == date.strftime("%Y%m%d")


@given(st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)))
def test_bcd_date_round_trip(date):
    assert codec.bcd_date(codec.encode_bcd(date.strftime("%Y%m%d"))) == date


@given(st.text(alphabet="0123456789", min_size=1, max_size=12))
def test_bcd_digits_round_trip(digits):
    assert codec.bcd_digits(codec.encode_bcd(digits)) == digits


@given(st.binary(max_size=32))
def test_name_decoder_never_crashes(raw):
    try:
        codec.gbk_text(raw)
    except MalformedReply:
        pass
