"""Reference numbers the kiosk mints offline: kiosk id, date, per-day sequence, check character.

Format: ``<KIOSK>-<YYYYMMDD>-<SEQ:06>-<C>``, e.g. ``KIOSK0001-20250314-000042-Q``. ``<KIOSK>`` is
the configured kiosk id upper-cased with everything but A-Z/0-9 dropped; ``<C>`` is the ISO/IEC
7064 MOD 37-2 check character over ``<KIOSK><YYYYMMDD><SEQ>``: it catches every single wrong
character and every swap of neighbours. MOD 37-2 has a 37th check value, ``*``, which the bureau
API does not allow in a reference; sequence numbers whose check would be ``*`` (1 in 37) are
simply skipped when minting, so every reference ends in 0-9 or A-Z.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import date

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_MOD = 37
SEQ_DIGITS = 6
SEQ_MAX: int = 10**SEQ_DIGITS - 1
# After a corrupt database is quarantined, the fresh one continues each day's sequence after the
# highest number salvaged from it, and today's (the day of the loss) QUARANTINE_GAP further on,
# for numbers the damaged pages hid: far more than a kiosk mints in a day (a few hundred), and
# 99 losses in one day before the sequence runs out. The floor lives in the fresh file's
# ref_sequence; it no longer grows with the count of quarantined files of every day (ten of
# those used to put the floor past SEQ_MAX: SequenceExhausted on every submission).
QUARANTINE_GAP = 10_000
_REF_RE = re.compile(r"^([A-Z0-9]{1,32})-(\d{8})-(\d{6})-([0-9A-Z*])$")


class BadReference(ValueError):
    """A reference number that is malformed or whose check character does not match."""


class SequenceExhausted(RuntimeError):
    """More than SEQ_MAX submissions in one day on one kiosk (a fault, not a busy day)."""


@dataclass(frozen=True)
class Reference:
    """A minted reference number and the idempotency key that travels with it."""

    text: str
    idempotency_key: str
    day: str
    sequence: int

    def __str__(self) -> str:
        return self.text


@functools.lru_cache(maxsize=4)
def kiosk_code(kiosk_id: str) -> str:
    """The kiosk id as it appears in references: upper case, letters and digits only."""
    code = re.sub(r"[^A-Z0-9]", "", kiosk_id.upper())
    if not code:
        raise BadReference("kiosk id has no letters or digits")
    return code[:32]


def _check_state(p: int, text: str) -> int:
    """MOD 37-2's running value after text (from p): the check character is computed in two
    parts so that a kiosk's code and the day, the same for every reference of a day, are
    folded once per day rather than for every submission."""
    for ch in text:
        v = ALPHABET.find(ch)
        if v < 0 or v == 36:
            raise BadReference(f"character {ch!r} not allowed in a reference")
        p = ((p + v) * 2) % _MOD
    return p


def check_character(body: str) -> str:
    """ISO/IEC 7064 MOD 37-2 (pure system, radix 2) check character for text of A-Z/0-9."""
    return ALPHABET[(_MOD + 1 - _check_state(0, body)) % _MOD]


# 8 a + 4 b + 2 c for the three digits abc of n: their share of MOD 37-2's running value
_THREE_DIGITS = tuple(8 * (n // 100) + 4 * (n // 10 % 10) + 2 * (n % 10) for n in range(1000))
assert SEQ_DIGITS == 6  # DayReferences.text folds the sequence as two groups of three digits


class DayReferences:
    """The references of one kiosk on one day. The kiosk code and the date, the same in every
    reference of the day, are folded into the check once, not once per reference."""

    __slots__ = ("_head", "_state", "ymd")

    def __init__(self, kiosk_id: str, day: date) -> None:
        code = kiosk_code(kiosk_id)
        self.ymd = f"{day.year:04d}{day.month:02d}{day.day:02d}"
        self._head = f"{code}-{self.ymd}-"
        self._state = _check_state(0, code + self.ymd)

    def __repr__(self) -> str:
        return f"<DayReferences {self._head}>"

    def text(self, sequence: int) -> str | None:
        """The reference for this sequence number, or None when its check character is '*'."""
        if not 1 <= sequence <= SEQ_MAX:
            raise SequenceExhausted(f"sequence {sequence} outside 1..{SEQ_MAX}")
        # _check_state over the six digits d1..d6, unrolled: p -> (p + d) * 2 six times is
        # 64 p + 64 d1 + 32 d2 + 16 d3 + 8 d4 + 4 d5 + 2 d6 (mod 37), three digits a table entry.
        high, low = divmod(sequence, 1000)
        p = (64 * self._state + 8 * _THREE_DIGITS[high] + _THREE_DIGITS[low]) % _MOD
        check = ALPHABET[(_MOD + 1 - p) % _MOD]
        return None if check == "*" else f"{self._head}{sequence:0{SEQ_DIGITS}d}-{check}"


@functools.lru_cache(maxsize=8)
def day_references(kiosk_id: str, day: date) -> DayReferences:
    """The DayReferences of kiosk_id on day, kept for the last few days asked."""
    return DayReferences(kiosk_id, day)


def format_reference(kiosk_id: str, day: date, sequence: int) -> str | None:
    """The reference for this sequence number, or None when its check character is '*'."""
    return day_references(kiosk_id, day).text(sequence)


def is_valid(text: str) -> bool:
    """True when text is a well-formed reference with a matching check character."""
    m = _REF_RE.match(text.strip().upper())
    if m is None:
        return False
    return check_character(m.group(1) + m.group(2) + m.group(3)) == m.group(4)


SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS ref_sequence (
    day  TEXT PRIMARY KEY,          -- YYYYMMDD of the kiosk clock when minted
    last INTEGER NOT NULL
);
"""


def mint(conn: sqlite3.Connection, kiosk_id: str, day: date, floor: int = 0) -> Reference:
    """Take the next sequence number for day inside the caller's open transaction.

    The caller commits: the sequence bump and the outbox row land together or not at all, so a
    crash never burns a number that was shown to nobody, nor shows one twice. A clock that jumps
    back to a day already used continues that day's count instead of starting again.
    """
    ymd = day.strftime("%Y%m%d")
    row = conn.execute("SELECT last FROM ref_sequence WHERE day = ?", (ymd,)).fetchone()
    nxt = max(row[0] if row else 0, floor) + 1
    text = None
    while text is None:
        if nxt > SEQ_MAX:
            raise SequenceExhausted(f"day={ymd} sequence exhausted")
        text = format_reference(kiosk_id, day, nxt)
        nxt += text is None
    conn.execute("INSERT INTO ref_sequence(day, last) VALUES (?, ?) "
                 "ON CONFLICT(day) DO UPDATE SET last = excluded.last", (ymd, nxt))
    return Reference(text, str(uuid.uuid4()), ymd, nxt)
