"""Reference numbers for the outbox: each day's count, never a number given twice.

The last number used on a day is the larger of the day's newest queued row (found through the
reference index) and ref_sequence, which keeps the high-water mark of rows that left the queue:
Outbox.ack writes it in the same transaction as the delete, and opening the file folds in the
queued rows of any other kiosk code. A number is therefore never minted twice, yet an enqueue writes only its own row: no
sequence row to update in every durable commit.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import date

from kiosk.sync import reference


def ymd_of(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def fold_high_water(conn: sqlite3.Connection, select: str, args: tuple[object, ...]) -> None:
    """Raise ref_sequence to the highest sequence of each day among the references select gives.
    A reference ends in YYYYMMDD-SEQ-C (17 characters) whatever the kiosk code before it. Days
    whose mark is already as high are left alone, so a fold that raises nothing writes nothing:
    the UI opens a queue it already knows even on a full disk."""
    conn.execute(
        "INSERT INTO ref_sequence(day, last) SELECT day, seq FROM ("
        "SELECT substr(reference, -17, 8) AS day, "
        f"max(CAST(substr(reference, -8, 6) AS INTEGER)) AS seq FROM ({select}) GROUP BY 1) AS f "
        "WHERE seq > coalesce((SELECT last FROM ref_sequence WHERE ref_sequence.day = f.day), 0) "
        "ON CONFLICT(day) DO UPDATE SET last = max(last, excluded.last)", args)


# What a mint leaves to remember once its transaction has committed: the connection, that
# connection's PRAGMA data_version inside the transaction, the day and the number taken.
Taken = tuple[sqlite3.Connection, int, str, int]


def idempotency_key() -> str:
    """A random (version 4) UUID in its text form: str(uuid.uuid4()) without the UUID object."""
    b = bytearray(os.urandom(16))
    b[6] = b[6] & 0x0F | 0x40  # version 4
    b[8] = b[8] & 0x3F | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Minter:
    """Mints the references of one kiosk inside the caller's write transaction.

    The last number is looked up in the file (last()) unless this process minted the previous
    one on the same connection and nothing else has committed to the file since: SQLite's
    PRAGMA data_version, read inside the write transaction, changes exactly when another
    connection (another process, or another thread's connection) has committed. Then the
    number after the one remembered is the same answer last() would give, without its query.
    Only a committed mint is remembered (taken()): a rolled-back one leaves no gap.
    """

    def __init__(self, kiosk_id: str) -> None:
        self.kiosk_id = kiosk_id
        self._code = ""  # the kiosk id as references spell it; worked out at the first use
        self._known: Taken | None = None

    def __repr__(self) -> str:
        return f"<Minter kiosk={self.kiosk_id}>"

    def mint(self, conn: sqlite3.Connection, day: date) -> tuple[str, str, Taken]:
        """(reference, idempotency key, what to pass to taken() once committed) for the next
        number of day. The caller inserts the row in the same transaction: the number is
        taken when that commits, and not before."""
        refs = reference.day_references(self.kiosk_id, day)
        version: tuple[int] = conn.execute("PRAGMA data_version").fetchone()
        known = self._known
        if (known is not None and known[0] is conn and known[1] == version[0]
                and known[2] == refs.ymd):
            nxt = known[3] + 1
        else:
            nxt = self.last(conn, refs.ymd) + 1
        while True:
            if nxt > reference.SEQ_MAX:
                raise reference.SequenceExhausted(f"day={refs.ymd} sequence exhausted")
            text = refs.text(nxt)
            if text is not None:
                return text, idempotency_key(), (conn, version[0], refs.ymd, nxt)
            nxt += 1

    def taken(self, minted: Taken) -> None:
        """The transaction of that mint committed: its number is the day's last."""
        self._known = minted

    def fold_other_codes(self, conn: sqlite3.Connection) -> None:
        """At open: rows queued under another kiosk code (the kiosk was renamed) are not found
        by last(), so their numbers go into the mark. This kiosk's own rows need nothing, so an
        open with none of those writes nothing."""
        try:
            prefix = reference.kiosk_code(self.kiosk_id) + "-"
        except reference.BadReference:
            fold_high_water(conn, "SELECT reference FROM outbox", ())
            return
        fold_high_water(conn, "SELECT reference FROM outbox WHERE substr(reference, 1, ?) != ?",
                        (len(prefix), prefix))

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
