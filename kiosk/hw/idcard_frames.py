"""GA 467 reader frames (the SAM-module ID card readers on a serial line), built and parsed
strictly. docs/idcard-protocol.md says where each detail comes from.

Command: AA AA AA 96 69 | LEN (2, big-endian) | CMD PARA | data | CHK
Reply:   AA AA AA 96 69 | LEN (2, big-endian) | SW1 SW2 SW3 | data | CHK
LEN counts everything after itself (the checksum included); CHK is the XOR of the LEN bytes
through the last data byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.hw.idcard_errors import IdCardUnreadable

PREAMBLE = bytes.fromhex("AAAAAA9669")
HEADER_LEN = len(PREAMBLE) + 2
MIN_REPLY_LEN = 4  # SW1 SW2 SW3 CHK
MAX_REPLY_LEN = 4096  # the largest reply (text + photo + fingerprint) is 2,314 bytes

SAM_STATUS = (0x11, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_BASE = (0x30, 0x01)  # text and photo

# SW3 values (SW1 SW2 are 00 00 on every reply the sources show).
OK = 0x90
FOUND = 0x9F
NO_CONTENT = 0x91
STATUS_TEXT = {
    0x90: "success", 0x9F: "card found", 0x91: "no content", 0x10: "checksum error (command)",
    0x11: "length error (command)", 0x21: "command error", 0x23: "not permitted", 0x24: "unknown error",
    0x31: "card failed to authenticate the SAM", 0x32: "SAM failed to authenticate the card",
    0x33: "information check failed", 0x40: "card type not recognised", 0x41: "reading the card failed",
    0x47: "random number failed", 0x60: "SAM self-test failed", 0x66: "SAM not authorised",
    0x80: "no card found", 0x81: "selecting the card failed",
}
SAM_FAULTS = frozenset({0x60, 0x66})
COMMAND_REFUSED = frozenset({0x10, 0x11, 0x21, 0x23, 0x24})


def checksum(data: bytes) -> int:
    value = 0
    for b in data:
        value ^= b
    return value


def build_command(cmd: tuple[int, int], data: bytes = b"") -> bytes:
    """One command frame: `build_command(FIND_CARD)` is AA AA AA 96 69 00 03 20 01 22."""
    body = bytes(cmd) + data
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([checksum(length + body)])


@dataclass(frozen=True)
class Reply:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @property
    def status(self) -> str:
        return f"{self.sw1:02X}{self.sw2:02X}{self.sw3:02X}"

    def describe(self) -> str:
        return f"SW={self.status} ({STATUS_TEXT.get(self.sw3, 'unknown status')})"


def reply_length(header: bytes) -> int:
    """What follows a 7-byte reply header; IdCardUnreadable for a bad preamble or length."""
    if len(header) != HEADER_LEN:
        raise IdCardUnreadable(f"short header: {len(header)} of {HEADER_LEN} bytes")
    if header[:5] != PREAMBLE:
        raise IdCardUnreadable(f"bad preamble {header[:5].hex(' ')}")
    length = int.from_bytes(header[5:7], "big")
    if not MIN_REPLY_LEN <= length <= MAX_REPLY_LEN:
        raise IdCardUnreadable(f"bad length {length}")
    return length


def parse_reply(frame: bytes) -> Reply:
    """A whole reply frame checked: preamble, length, checksum. The status is not judged here."""
    length = reply_length(frame[:HEADER_LEN])
    if len(frame) != HEADER_LEN + length:
        raise IdCardUnreadable(f"frame of {len(frame)} bytes, its length says {HEADER_LEN + length}")
    body, chk = frame[5:-1], frame[-1]
    if checksum(body) != chk:
        raise IdCardUnreadable(f"bad checksum {chk:02X}, computed {checksum(body):02X}")
    return Reply(frame[7], frame[8], frame[9], frame[10:-1])


def split_base_message(data: bytes) -> tuple[bytes, bytes]:
    """The read reply's data: text length (2), photo length (2), text (256), photo (1024)."""
    if len(data) < 4:
        raise IdCardUnreadable(f"base message of {len(data)} bytes")
    text_len, photo_len = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
    if text_len != 256 or photo_len != 1024:
        raise IdCardUnreadable(f"text/photo lengths {text_len}/{photo_len}, expected 256/1024")
    if len(data) != 4 + text_len + photo_len:
        raise IdCardUnreadable(f"base message of {len(data)} bytes, its lengths say {4 + text_len + photo_len}")
    return data[4:4 + text_len], data[4 + text_len:]
