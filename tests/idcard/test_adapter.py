"""The kiosk's adapter against the simulated reader on a pty: each persona, and each fault."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from kiosk.hw.health import HealthState
from kiosk.hw.idcard_errors import IdCardReaderFault, IdCardRemoved, IdCardUnreadable, NoIdCard, SamUnavailable
from kiosk.hw.ports import Device, IdCardReader
from tests.idcard.conftest import REPLY_TIMEOUT_S


@pytest.mark.parametrize(("persona", "id_number", "name", "until"), [
    ("wang", "110105195803120029", "王秀英", None),
    ("zhou", "420106195612010061", "周桂兰", dt.date(2036, 6, 1)),
    ("chen_rare", "310104198807230027", "陈\ue40c", dt.date(2038, 7, 23)),
    ("liu_expired", "440106199902140034", "刘洋", dt.date(2020, 2, 14)),
])
def test_each_persona_reads_as_its_citizen(sim, reader, persona, id_number, name, until):
    sim.insert(persona)
    assert reader.wait_for_card(1.0)
    data = reader.read()
    assert (data.id_number, data.name, data.valid_until) == (id_number, name, until)
    assert data.name_has_rare_chars == (persona == "chen_rare")
    assert data.expired(dt.date(2026, 12, 1)) == (persona == "liu_expired")
    assert data.expired(None) is None
    assert data.photo_length == 1024
    assert reader.health().state is HealthState.OK and reader.reads == 1


def test_the_adapter_is_its_port_and_says_its_state(reader):
    assert isinstance(reader, IdCardReader) and isinstance(reader, Device)
    assert "state=ok" in repr(reader) and "reads=0" in repr(reader)


def test_no_card_waits_out_its_time_then_a_card_placed_is_found(sim, reader):
    started = time.monotonic()
    assert reader.wait_for_card(0.3) is False
    assert 0.25 <= time.monotonic() - started < 2
    with pytest.raises(NoIdCard):
        reader.read()
    threading.Timer(0.2, sim.insert, args=("zhou",)).start()
    assert reader.wait_for_card(3.0) is True


def test_a_card_pulled_during_the_read_is_removed_and_stays_gone(sim, reader):
    sim.insert("wang")
    sim.fault("pull")
    with pytest.raises(IdCardRemoved, match="read: SW=000041"):
        reader.read()
    with pytest.raises(NoIdCard):
        reader.read()


def test_a_corrupt_frame_is_unreadable_and_the_next_read_works(sim, reader):
    sim.insert("wang")
    sim.fault("corrupt")
    with pytest.raises(IdCardUnreadable, match="bad checksum"):
        reader.read()
    assert reader.read().id_number == "110105195803120029"


def test_a_reply_cut_short_is_a_short_read(sim, reader):
    sim.insert("wang")
    sim.fault("short")
    with pytest.raises(IdCardUnreadable, match="short read"):
        reader.read()


def test_a_card_with_a_bad_check_character_is_unreadable(sim, reader):
    sim.insert("bad_check")
    with pytest.raises(IdCardUnreadable, match=r"id\.problem\.bad_check"):
        reader.read()


def test_a_missing_sam_is_said_by_health_until_it_answers_again(sim, reader):
    sim.insert("wang")
    sim.set_sam("missing")
    with pytest.raises(SamUnavailable, match="SAM self-test failed"):
        reader.read()
    health = reader.health()
    assert health.state is HealthState.OFFLINE and health.reason == "health.idcard.sam_missing"
    with pytest.raises(SamUnavailable):
        reader.check_sam()
    sim.set_sam("ok")
    reader.check_sam()
    assert reader.health().state is HealthState.OK


def test_a_silent_reader_is_a_reader_fault_not_a_card_fault(sim, reader):
    sim.insert("wang")
    sim.set_sam("silent")
    started = time.monotonic()
    with pytest.raises(IdCardReaderFault, match="no reply within") as caught:
        reader.read()
    assert not isinstance(caught.value, SamUnavailable)
    assert time.monotonic() - started < REPLY_TIMEOUT_S + 1
    assert reader.health().reason == "health.idcard.no_reply"
    sim.set_sam("ok")
    time.sleep(0.1)
    assert reader.read().id_number == "110105195803120029"  # a late or lost reply does not linger
    assert reader.health().state is HealthState.OK


def test_a_slow_reply_within_the_timeout_is_read(sim, reader):
    sim.insert("zhou")
    sim.set_delay(REPLY_TIMEOUT_S / 3)  # each of find, select, read: slow, but in time
    assert reader.read().id_number == "420106195612010061"


def test_a_reply_slower_than_the_timeout_is_no_reply(sim, reader):
    sim.insert("zhou")
    sim.set_delay(REPLY_TIMEOUT_S + 0.3)
    with pytest.raises(IdCardReaderFault, match="no reply"):
        reader.wait_for_card(0.1)


def test_a_command_the_reader_finds_corrupt_is_answered_10_and_refused(reader):
    # the frame's checksum spoilt on the way: the reader says 10 (checksum error)
    reader.line.reset_input_buffer()
    reader.line.write(bytes.fromhex("AAAAAA9669000320012F"))
    from kiosk.hw import idcard_frames as fr

    frame = reader.line.read(fr.HEADER_LEN)
    frame += reader.line.read(fr.reply_length(frame))
    assert fr.parse_reply(frame).sw3 == 0x10
    with pytest.raises(IdCardReaderFault, match="refused the command"):
        reader._expect("find", fr.parse_reply(frame), {fr.FOUND})


def test_the_reads_log_no_personal_data(sim, reader, caplog):
    sim.insert("chen_rare")
    with caplog.at_level("INFO", logger="kiosk.hw.idcard_serial"):
        reader.read()
        sim.fault("corrupt")
        with pytest.raises(IdCardUnreadable):
            reader.read()
        sim.insert("bad_check")
        with pytest.raises(IdCardUnreadable):
            reader.read()
    text = caplog.text
    assert "event=idcard_read result=ok rare_chars=1" in text and "result=IdCardUnreadable" in text
    for secret in ("310104198807230027", "110105195803120028", "陈", "王秀英", "上海市", "北京市"):
        assert secret not in text


def test_closing_closes_the_line_and_is_idempotent(reader):
    reader.close()
    reader.close()
    assert reader.closed and not reader.line.is_open
