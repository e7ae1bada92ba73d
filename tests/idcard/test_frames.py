"""GA 467 frames: the exact bytes the kiosk sends, and every way a reply is refused."""

from __future__ import annotations

import pytest

from kiosk.hw import idcard_frames as fr
from kiosk.hw.idcard_errors import IdCardUnreadable


@pytest.mark.parametrize(("command", "golden"), [
    (fr.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
    (fr.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),
    (fr.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
    (fr.READ_BASE, "AA AA AA 96 69 00 03 30 01 32"),
])
def test_command_frames_are_the_published_bytes(command, golden):
    assert fr.build_command(command) == bytes.fromhex(golden)


def test_a_command_with_data_counts_it_in_the_length_and_the_checksum():
    # "set max RF bytes" 61 FF 50, published as AA AA AA 96 69 00 04 61 FF 50 CA
    assert fr.build_command((0x61, 0xFF), b"\x50") == bytes.fromhex("AAAAAA9669000461FF50CA")


def reply_bytes(sw3: int, data: bytes = b"") -> bytes:
    """Written out by hand from the frame layout, not with the code under test."""
    length = len(data) + 4
    body = bytes([length >> 8, length & 0xFF, 0, 0, sw3]) + data
    chk = 0
    for b in body:
        chk ^= b
    return b"\xaa\xaa\xaa\x96\x69" + body + bytes([chk])


def test_a_good_reply_is_parsed_with_its_status_and_data():
    assert reply_bytes(0x9F, bytes(4)) == bytes.fromhex("AAAAAA9669000800009F0000000097")
    reply = fr.parse_reply(reply_bytes(0x9F, bytes(4)))
    assert (reply.sw1, reply.sw2, reply.sw3, reply.data) == (0, 0, 0x9F, bytes(4))
    assert reply.status == "00009F" and "card found" in reply.describe()


def test_a_bad_checksum_is_refused():
    frame = bytearray(reply_bytes(0x90))
    frame[-1] ^= 0x01
    with pytest.raises(IdCardUnreadable, match="bad checksum"):
        fr.parse_reply(bytes(frame))


def test_a_flipped_data_bit_is_caught_by_the_checksum():
    frame = bytearray(reply_bytes(0x90, b"\x01\x02\x03"))
    frame[11] ^= 0x40
    with pytest.raises(IdCardUnreadable, match="bad checksum"):
        fr.parse_reply(bytes(frame))


@pytest.mark.parametrize(("frame", "words"), [
    (reply_bytes(0x90)[:-1], "its length says"),  # one byte short
    (reply_bytes(0x90) + b"\x00", "its length says"),  # one byte too many
    (b"\xaa\xaa\xab\x96\x69" + reply_bytes(0x90)[5:], "bad preamble"),
    (bytes.fromhex("AAAAAA9669 0002 0000"), "bad length 2"),
    (bytes.fromhex("AAAAAA9669 FFFF"), "bad length 65535"),
    (bytes.fromhex("AAAAAA96"), "short header"),
])
def test_a_wrong_length_or_preamble_is_refused(frame, words):
    with pytest.raises(IdCardUnreadable, match=words):
        fr.parse_reply(frame)


def test_the_base_message_splits_into_256_bytes_of_text_and_1024_of_photo():
    text, photo = bytes(range(256)), b"\x55" * 1024
    assert fr.split_base_message(b"\x01\x00\x04\x00" + text + photo) == (text, photo)


@pytest.mark.parametrize(("data", "words"), [
    (b"\x01\x00\x04\x00" + bytes(256 + 1023), "its lengths say"),  # short read of the photo
    (b"\x01\x00\x04\x00" + bytes(256 + 1025), "its lengths say"),
    (b"\x00\xff\x04\x00" + bytes(255 + 1024), "expected 256/1024"),
    (b"\x01\x00", "base message of 2 bytes"),
])
def test_a_base_message_whose_lengths_disagree_is_refused(data, words):
    with pytest.raises(IdCardUnreadable, match=words):
        fr.split_base_message(data)
