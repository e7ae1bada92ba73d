"""Card-side APDU parsing and status words (ISO 7816-4 short APDUs only)."""

from __future__ import annotations

from dataclasses import dataclass

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_SECURITY = b"\x69\x82"  # security status not satisfied
SW_BLOCKED = b"\x69\x83"
SW_CONDITIONS = b"\x69\x85"  # conditions of use not satisfied
SW_WRONG_DATA = b"\x6a\x80"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_RECORD_NOT_FOUND = b"\x6a\x83"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_INS_UNKNOWN = b"\x6d\x00"
SW_CLA_UNKNOWN = b"\x6e\x00"
SW_AUTH_FAILED = b"\x63\x00"


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None  # None: no Le field; 0 means "up to 256"

    @property
    def header(self) -> tuple[int, int]:
        return self.cla, self.ins


def parse(raw: bytes) -> Command | None:
    """Split a short APDU into its fields; None if the lengths do not add up."""
    if len(raw) < 4:
        return None
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return Command(cla, ins, p1, p2, b"", None)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, b"", body[0])
    lc = body[0]
    if lc == 0 or len(body) not in (1 + lc, 2 + lc):
        return None
    le = body[1 + lc] if len(body) == 2 + lc else None
    return Command(cla, ins, p1, p2, body[1 : 1 + lc], le)


def with_le(data: bytes, le: int | None) -> bytes:
    """Answer data honouring Le like a strict card: a wrong non-zero Le earns 6Cxx."""
    if le is not None and le != 0 and le != len(data):
        return bytes((0x6C, len(data) & 0xFF))
    return data + SW_OK


def bcd(digits: str) -> bytes:
    return bytes.fromhex(digits if len(digits) % 2 == 0 else digits + "F")


def pin_from_bcd(raw: bytes) -> str | None:
    """Six PIN digits from three BCD bytes; None if any nibble is not a digit."""
    text = raw.hex().upper()
    return text if len(text) == 6 and text.isdigit() else None
