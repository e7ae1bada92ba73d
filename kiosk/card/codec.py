"""Decoders for what the card stores: TLV items, BCD digits and dates, ASCII and GBK text.

Every decoder either returns a correct value or raises MalformedReply; never a wrong value.
"""

from __future__ import annotations

import datetime as dt

from kiosk.card.errors import MalformedReply

_PAD = b"\x00\xff"


def parse_tlv(data: bytes, tag: int) -> bytes:
    """The value of one item `tag len value` (len short form, or 81 xx); trailing bytes ignored."""
    if len(data) < 2:
        raise MalformedReply(f"tag {tag:02X}: reply of {len(data)} bytes")
    if data[0] != tag:
        raise MalformedReply(f"tag {tag:02X}: reply starts with {data[0]:02X}")
    size, start = data[1], 2
    if size == 0x81:
        if len(data) < 3:
            raise MalformedReply(f"tag {tag:02X}: truncated length")
        size, start = data[2], 3
    elif size > 0x7F:
        raise MalformedReply(f"tag {tag:02X}: unsupported length byte {size:02X}")
    if len(data) < start + size:
        raise MalformedReply(f"tag {tag:02X}: {len(data) - start} of {size} bytes")
    return bytes(data[start : start + size])


def bcd_digits(raw: bytes) -> str:
    """Digits of packed BCD; a trailing F nibble is padding."""
    text = raw.hex().upper().rstrip("F")
    if not text.isdigit():
        raise MalformedReply(f"not BCD: {len(raw)} bytes")
    return text


def encode_bcd(digits: str) -> bytes:
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("BCD needs digits")
    return bytes.fromhex(digits if len(digits) % 2 == 0 else digits + "F")


def bcd_date(raw: bytes) -> dt.date | None:
    """YYYYMMDD in 4 BCD bytes; None when the field is blank (all 00 or all FF)."""
    if not raw or raw.strip(b"\x00") == b"" or raw.strip(b"\xff") == b"":
        return None
    if len(raw) != 4:
        raise MalformedReply(f"date of {len(raw)} bytes")
    text = bcd_digits(raw)
    if len(text) != 8:
        raise MalformedReply("date is not 8 digits")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise MalformedReply("not a calendar date") from None


def ascii_text(raw: bytes) -> str:
    """Fixed-size ASCII field: padding (00, FF, space) stripped, printable characters only."""
    text = raw.rstrip(_PAD).rstrip(b" ")
    if not all(0x20 <= b < 0x7F for b in text):
        raise MalformedReply("text field is not printable ASCII")
    return text.decode("ascii")


def gbk_text(raw: bytes) -> str:
    """A name field in GBK (decoded as GB18030, its superset); padding stripped."""
    text = raw.rstrip(_PAD)
    try:
        out = text.decode("gb18030")
    except UnicodeDecodeError:
        raise MalformedReply("name is not GB18030 text") from None
    if any(ord(c) < 0x20 for c in out):
        raise MalformedReply("name holds control characters")
    return out.strip()


def padding_bytes(raw: bytes) -> int:
    """How many bytes at the end of a fixed field are padding."""
    return len(raw) - len(raw.rstrip(_PAD))


def combine_name(basic_raw: bytes, ext_raw: bytes | None) -> tuple[str, str, str | None]:
    """(name, basic, extension) from tags 09 and 4E.

    Public sources disagree on 4E, so both readings are handled: when 09 is full to its last
    byte or two (a GBK name cut at the field end), 4E continues it; otherwise 4E holds the
    whole name with characters GBK lacks (GB18030 four-byte forms) and replaces 09.
    """
    basic = gbk_text(basic_raw)
    ext = gbk_text(ext_raw) if ext_raw and ext_raw.strip(_PAD) else None
    if not ext:
        return basic, basic, None
    if padding_bytes(basic_raw) <= 1:
        return basic + ext, basic, ext
    return ext, basic, ext
