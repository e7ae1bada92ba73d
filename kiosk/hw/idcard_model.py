"""What a resident ID card (二代身份证) holds, as the kiosk keeps it, and the strict parser of the
256-byte text block its reader returns (UCS-2LE fixed-width fields; docs/idcard-protocol.md).

Parsing is total: every field is checked (digits, dates, codes, the ID number's check character,
birth date and sex against the ID number), and anything else is IdCardUnreadable. Rare characters
that cards carry as private-use code points (U+E000-U+F8FF) are kept as they are and flagged, so
no screen or receipt shows them as a wrong character.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiosk.domain import citizen_id
from kiosk.hw.idcard_errors import IdCardUnreadable

TEXT_BLOCK_LEN = 256
# (field, bytes) in card order: 15 + 1 + 2 + 8 + 35 + 18 + 15 + 8 + 8 + 18 UCS-2 characters.
FIELDS = (("name", 30), ("sex", 2), ("nation", 4), ("birth", 16), ("address", 70), ("id_number", 36),
          ("authority", 30), ("valid_from", 16), ("valid_until", 16), ("reserved", 36))
LONG_TERM = "长期"  # a validity end that never comes
SEXES = {"1": "male", "2": "female"}  # GB/T 2261.1 codes a card carries
# GB 3304 nationality codes: the 56 nationalities, 97 其他, 98 外国血统中国籍人士.
NATION_CODES = frozenset([f"{n:02d}" for n in range(1, 57)] + ["97", "98"])


def is_private_use(ch: str) -> bool:
    return 0xE000 <= ord(ch) <= 0xF8FF


@dataclass(frozen=True, repr=False)
class IdCardData:
    """One card's text, checked. The photo (wlt-compressed, never decoded) is not kept: only its
    length and a digest, for diagnostics. repr is masked, so it cannot leak into a log."""

    name: str  # may hold private-use code points: see name_has_rare_chars
    sex: str  # "male" | "female"
    nation_code: str  # GB 3304, two digits
    birth_date: dt.date
    address: str
    id_number: str  # 18 characters, check character verified
    authority: str
    valid_from: dt.date
    valid_until: dt.date | None  # None: 长期 (long-term, never expires)
    photo_length: int = 0
    photo_digest: str = field(default="")  # sha256 hex of the wlt block, diagnostics only

    @property
    def name_has_rare_chars(self) -> bool:
        """The name holds a character the card stores in the private-use area: no font shows it
        right, so it must be shown as a placeholder, never as whatever glyph the font has."""
        return any(is_private_use(ch) for ch in self.name)

    def name_with(self, placeholder: str) -> str:
        """The name with each private-use character replaced (e.g. by "□" or "?")."""
        return "".join(placeholder if is_private_use(ch) else ch for ch in self.name)

    @property
    def long_term(self) -> bool:
        return self.valid_until is None

    def expired(self, today: dt.date | None) -> bool | None:
        """Expired on `today`, judged only on a trusted date: None when there is none. A card is
        valid through its end date; 长期 never expires."""
        if today is None:
            return None
        if self.valid_until is None:
            return False
        return today > self.valid_until

    def __repr__(self) -> str:
        from kiosk.domain.masking import mask_id, mask_name

        until = self.valid_until.isoformat() if self.valid_until else "long_term"
        return (f"IdCardData(name={mask_name(self.name_with('*'))!r}, id_number={mask_id(self.id_number)!r}, "
                f"valid_until={until}, rare_chars={self.name_has_rare_chars}, photo_length={self.photo_length})")

    __str__ = __repr__


def split_fields(block: bytes) -> dict[str, str]:
    """The text block's fields decoded from UCS-2LE, trailing padding (spaces, NULs) removed."""
    if len(block) != TEXT_BLOCK_LEN:
        raise IdCardUnreadable(f"text block of {len(block)} bytes, expected {TEXT_BLOCK_LEN}")
    out: dict[str, str] = {}
    pos = 0
    for name, size in FIELDS:
        raw = block[pos:pos + size]
        pos += size
        units = [int.from_bytes(raw[i:i + 2], "little") for i in range(0, size, 2)]
        if any(0xD800 <= u <= 0xDFFF for u in units):  # UCS-2 has no surrogates
            raise IdCardUnreadable(f"field {name}: a surrogate code unit (not UCS-2)")
        out[name] = "".join(map(chr, units)).rstrip(" \x00")
    return out


def parse_text_block(block: bytes, photo: bytes = b"") -> IdCardData:
    """The card's text block checked field by field; IdCardUnreadable names the first bad field
    (never its value: it is personal data)."""
    import hashlib

    f = split_fields(block)
    name, address, authority = (_text(f, k) for k in ("name", "address", "authority"))
    sex = SEXES.get(f["sex"])
    if sex is None:
        raise IdCardUnreadable("field sex: not a sex code (1 or 2)")
    if f["nation"] not in NATION_CODES:
        raise IdCardUnreadable("field nation: not a GB 3304 code")
    number = f["id_number"]
    problem = citizen_id.validate(number)
    if problem is not None:
        raise IdCardUnreadable(f"field id_number: {problem.value}")
    birth = _date(f, "birth")
    if birth.strftime("%Y%m%d") != number[6:14]:
        raise IdCardUnreadable("field birth: differs from the ID number's birth date")
    if (int(number[16]) % 2 == 1) != (sex == "male"):
        raise IdCardUnreadable("field sex: differs from the ID number's sex digit")
    start = _date(f, "valid_from")
    end = None if f["valid_until"] == LONG_TERM else _date(f, "valid_until")
    if end is not None and end <= start:
        raise IdCardUnreadable("field valid_until: not after valid_from")
    if start < birth:
        raise IdCardUnreadable("field valid_from: before the birth date")
    return IdCardData(name, sex, f["nation"], birth, address, number, authority, start, end,
                      len(photo), hashlib.sha256(photo).hexdigest() if photo else "")


def _text(fields: dict[str, str], key: str) -> str:
    value = fields[key]
    if not value:
        raise IdCardUnreadable(f"field {key}: empty")
    for ch in value:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\ufffe\uffff":
            raise IdCardUnreadable(f"field {key}: control character U+{ord(ch):04X}")
    return value


def _date(fields: dict[str, str], key: str) -> dt.date:
    text = fields[key]
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        raise IdCardUnreadable(f"field {key}: not YYYYMMDD")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise IdCardUnreadable(f"field {key}: no such date") from None
