"""End to end: kiosk.card over kiosk.hw.reader_pcsc -> pyscard -> pcscd -> vpcd -> emulator.

Expected identities come straight from the data files, not from the emulator's code.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest

from kiosk.card.errors import (
    BankOnlyCard,
    CardExpired,
    MuteCard,
    PinBlocked,
    TerminalAuthFailed,
    WrongPin,
)
from kiosk.card.protocol import SscCard
from kiosk.card.security import PsamSecurityModule
from kiosk.hw.errors import CardRemoved, ExchangeTimeout, PcscUnavailable
from kiosk.hw.health import HealthState
from kiosk.hw.reader_pcsc import PcscReader
from tests.card.conftest import PSAM_READER, wait_until

DATA = Path(__file__).resolve().parents[2] / "simulators" / "data"
CARDS = tomllib.loads((DATA / "cards.toml").read_text())["cards"]
CITIZENS = {c["card"]["number"]: c for c in tomllib.loads((DATA / "personas.toml").read_text())["citizens"]}
TODAY = dt.date(2026, 1, 1)  # a trusted clock for the tests (the real one is injected)


def citizen(persona: str) -> dict:
    entry = CARDS[persona]
    return CITIZENS.get(entry["number"], entry)


@pytest.mark.parametrize("persona", ["activated", "second_gen", "new_card", "reported_lost", "answers_61xx",
                                     "rare_name", "rare_name_ext_a", "long_name", "pin_blocked"])
def test_identity_of_each_persona(stack, reader, persona):
    """GIVEN a persona's card WHEN the kiosk reads its identity THEN it matches personas.toml."""
    stack.insert(persona, reader)
    ident = SscCard(reader.transmit).read_identity(TODAY)
    who = citizen(persona)
    assert ident.holder.id_number == who["id_number"]
    assert ident.holder.name == who["name"]
    assert ident.holder.id_number_valid
    card = who.get("card", who)
    assert ident.info.card_number == CARDS[persona]["number"]
    assert ident.info.generation == card["generation"]
    assert ident.info.expiry_date == dt.date.fromisoformat(str(card["expires_on"]))
    assert ident.holder.sex == {"M": "1", "F": "2"}[who["sex"]]
    assert ident.apdus == (10 if card["generation"] >= 3 else 9)


def test_wrong_pin_counts_down_and_right_pin_restores(stack, reader):
    stack.insert("second_gen", reader)
    card = SscCard(reader.transmit)
    card.select()
    with pytest.raises(WrongPin) as info:
        card.verify_pin("000000")
    assert info.value.retries_left == 2
    card.verify_pin(citizen("second_gen")["card"]["pin"])
    assert card.pin_tries_left() == 3


def test_pin_blocks_after_the_limit_and_stays_blocked(stack, reader):
    stack.insert("reported_lost", reader)
    card = SscCard(reader.transmit)
    card.select()
    for left in (2, 1):
        with pytest.raises(WrongPin) as info:
            card.verify_pin("000000")
        assert info.value.retries_left == left
    with pytest.raises(PinBlocked):
        card.verify_pin("000000")
    with pytest.raises(PinBlocked) as blocked:  # even the right PIN: never retryable
        card.verify_pin(citizen("reported_lost")["card"]["pin"])
    assert blocked.value.retries == 0


def test_blocked_card_refuses_verify(stack, reader):
    stack.insert("pin_blocked", reader)
    card = SscCard(reader.transmit)
    card.select()
    with pytest.raises(PinBlocked):
        card.verify_pin(citizen("pin_blocked")["card"]["pin"])


def test_change_pin_from_initial_pin(stack, reader):
    stack.insert("new_card", reader)
    card = SscCard(reader.transmit)
    card.select()
    card.change_pin("123456", "802614")
    assert stack.ctl("PIN new_card") == "OK 802614 3"
    with pytest.raises(WrongPin):
        card.verify_pin("123456")
    card.verify_pin("802614")


@pytest.mark.parametrize("persona", ["activated", "second_gen"])  # SM4 (3rd gen) and 3DES (2nd gen)
def test_pin_reload_with_right_and_wrong_cryptogram(stack, reader, persona):
    stack.insert(persona, reader)
    old = stack.ctl(f"PIN {persona}")
    card = SscCard(reader.transmit)
    info = card.read_card_info()
    with PcscReader(PSAM_READER, exchange_timeout_s=2.0) as psam_reader:
        psam = PsamSecurityModule(psam_reader.transmit)
        stack.ctl("PSAM corrupt")
        with pytest.raises(TerminalAuthFailed):
            card.reload_pin("470258", psam, reader.atr, info)
        assert stack.ctl(f"PIN {persona}") == old  # nothing written
        stack.ctl("PSAM good")
        card.reload_pin("470258", psam, reader.atr, info)
    assert stack.ctl(f"PIN {persona}") == "OK 470258 3"
    card.verify_pin("470258")


def test_card_pulled_out_mid_read(stack, reader):
    """GIVEN a read in progress WHEN the card is pulled during an APDU THEN CardRemoved, and
    the reader serves the next card."""
    stack.insert("activated", reader)
    stack.ctl("STALL 3")  # SELECT and two records answered, the third hangs
    outcome: dict = {}

    def read() -> None:
        try:
            outcome["identity"] = SscCard(reader.transmit).read_identity()
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=read)
    worker.start()
    stack.ctl("WAIT-STALLED 5")
    stack.ctl("REMOVE")
    worker.join(5)
    assert isinstance(outcome.get("error"), CardRemoved), outcome
    assert "identity" not in outcome
    stack.insert("second_gen", reader)
    assert SscCard(reader.transmit).read_identity().info.card_number == "A00000002"


def test_exchange_timeout_abandons_and_recovers(stack, reader):
    stack.insert("second_gen", reader)
    reader.exchange_timeout_s = 0.5
    stack.ctl("STALL 1")
    card = SscCard(reader.transmit)
    card.select()
    with pytest.raises(ExchangeTimeout):
        card.read_card_info()
    assert reader.health().state is HealthState.OK  # the monitor is not stuck behind the card
    stack.ctl("REMOVE")  # the citizen takes the silent card out; the reader is free again
    assert reader.wait_for_removal(5)
    stack.insert("second_gen", reader)
    reader.exchange_timeout_s = 2.0
    assert SscCard(reader.transmit).read_identity().holder.id_number == citizen("second_gen")["id_number"]


@pytest.mark.parametrize("persona", ["mute", "mute_silent"])
def test_mute_cards(stack, reader, persona):
    reader.exchange_timeout_s = 0.5
    stack.insert(persona, reader)
    with pytest.raises(MuteCard):
        SscCard(reader.transmit).read_identity()
    stack.remove(reader)


def test_bank_only_card(stack, reader):
    stack.insert("bank_only", reader)
    with pytest.raises(BankOnlyCard):
        SscCard(reader.transmit).read_identity()


def test_expired_card_only_with_a_trusted_clock(stack, reader):
    stack.insert("expired", reader)
    with pytest.raises(CardExpired) as info:
        SscCard(reader.transmit).read_identity(today=TODAY)
    assert info.value.expiry == dt.date(2022, 4, 1)
    ident = SscCard(reader.transmit).read_identity(today=None)  # untrusted clock: no judgement
    assert ident.info.expired(TODAY)


def test_wrong_le_is_resent_by_the_reader(stack, reader):
    stack.insert("second_gen", reader)
    SscCard(reader.transmit).select()
    data, sw = reader.transmit(bytes.fromhex("00B2072C05"))  # card number is 9 bytes, not 3
    assert sw == 0x9000 and data == b"\x07\x09A00000002"


def test_pcscd_stopped_then_back(stack, reader):
    stack.insert("activated", reader)
    SscCard(reader.transmit).select()
    stack.stop_pcscd()
    with pytest.raises(PcscUnavailable):
        reader.transmit(bytes.fromhex("00B2072C0B"))
    with pytest.raises(PcscUnavailable):
        reader.wait_for_card(0.2)
    assert wait_until(lambda: reader.health().reason == "health.reader.pcscd_down", 3)
    stack.start_pcscd()
    assert reader.wait_for_card(5)
    assert SscCard(reader.transmit).read_identity().info.card_number == "A00000001"
    assert wait_until(lambda: reader.health().state is HealthState.OK, 3)


@pytest.mark.skipif(shutil.which("pcsc_scan") is None, reason="pcsc-tools not installed")
def test_independent_client_sees_the_card(stack, reader):
    stack.insert("second_gen", reader)
    reader.end_session()
    out = subprocess.run(["timeout", "2", "pcsc_scan", "-n"], capture_output=True, text=True).stdout
    assert "Card inserted" in out and "Virtual PCD 00 00" in out


@pytest.mark.skipif(shutil.which("opensc-tool") is None, reason="opensc not installed")
def test_opensc_tool_selects_and_reads_the_id_number(stack, reader):
    stack.insert("second_gen", reader)
    reader.end_session()
    select = "00:A4:04:00:0F:" + ":".join(f"{b:02X}" for b in "sx1.sh.社会保障".encode("gbk"))
    out = subprocess.run(["opensc-tool", "-r", "0", "-s", select, "-s", "00:B2:08:34:14"],
                         capture_output=True, text=True, timeout=20).stdout
    assert out.count("SW1=0x90, SW2=0x00") == 2, out
    number = citizen("second_gen")["id_number"]
    assert " ".join(f"{b:02X}" for b in number.encode()[:6]) in out
