"""Reference numbers for the outbox: each day's count, never a number given twice.

The last number used on a day is the larger of the day's newest queued row (found through the
reference index) and ref_sequence, which keeps the high-water mark of rows that left the queue:
Outbox.ack writes it in the same transaction as the delete, and opening the file folds in every
queued row. A number is therefore never minted twice, yet an enqueue writes only its own row: no
sequence row to update in every durable commit.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import date

from kiosk.sync import reference


def ymd_of(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def fold_high_water(conn: sqlite3.Connection, select: str, args: tuple[object, ...]) -> None:
    """Raise ref_sequence to the highest sequence of each day among the references select gives.
    A reference ends in YYYYMMDD-SEQ-C (17 characters) whatever the kiosk code before it."""
    conn.execute(
        "INSERT INTO ref_sequence(day, last) "
        f"SELECT substr(reference, -17, 8), max(CAST(substr(reference, -8, 6) AS INTEGER)) "
        f"FROM ({select}) WHERE true GROUP BY 1 "
        "ON CONFLICT(day) DO UPDATE SET last = max(last, excluded.last)", args)


class Minter:
    """Mints the references of one kiosk inside the caller's write transaction."""

    def __init__(self, kiosk_id: str) -> None:
        self.kiosk_id = kiosk_id
        self._code = ""  # the kiosk id as references spell it; worked out at the first use

    def __repr__(self) -> str:
        return f"<Minter kiosk={self.kiosk_id}>"

    def mint(self, conn: sqlite3.Connection, day: date) -> tuple[str, str]:
        """(reference, idempotency key) for the next number of day. The caller inserts the row
        in the same transaction: the number is taken when that commits, and not before."""
        ymd = ymd_of(day)
        nxt = self.last(conn, ymd) + 1
        while True:
            if nxt > reference.SEQ_MAX:
                raise reference.SequenceExhausted(f"day={ymd} sequence exhausted")
            text = reference.format_reference(self.kiosk_id, day, nxt)
            if text is not None:
                return text, str(uuid.uuid4())
            nxt += 1

    def last(self, conn: sqlite3.Connection, ymd: str) -> int:
        """The last number used on day ymd. After a quarantine the fresh file's ref_sequence
        holds the floor storage.prepare set (reference.QUARANTINE_GAP)."""
        self._code = self._code or reference.kiosk_code(self.kiosk_id)
        prefix = f"{self._code}-{ymd}-"
        row: tuple[int] = conn.execute(
            "SELECT max(coalesce((SELECT last FROM ref_sequence WHERE day = ?), 0), "
            "coalesce((SELECT CAST(substr(reference, ?, ?) AS INTEGER) FROM outbox "
            "WHERE reference >= ? AND reference < ? ORDER BY reference DESC LIMIT 1), 0))",
            (ymd, len(prefix) + 1, reference.SEQ_DIGITS, prefix, prefix + "~")).fetchone()
        return int(row[0])

    def left(self, conn: sqlite3.Connection, day: date) -> int:
        """Reference numbers still free on day: can_accept says no before enqueue would fail."""
        return reference.SEQ_MAX - self.last(conn, ymd_of(day))
