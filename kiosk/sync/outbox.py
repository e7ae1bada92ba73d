"""The durable outbox: sealed submissions wait here (SQLite, WAL, synchronous=FULL) for the bureau.

States: pending -> in_flight -> deleted on acknowledgement, or dead (a permanent refusal) until a
technician retries it. Retry times are monotonic seconds of the current boot, so a wall-clock jump
neither stalls nor floods the queue; on a new boot every waiting row comes due at once.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from kiosk.sync import clock as _clock
from kiosk.sync import storage
from kiosk.sync.backoff import Backoff
from kiosk.sync.records import (
    AheadSealer,
    Alert,
    Capacity,
    DeadLetter,
    EnvelopeMeta,
    Item,
    NoSealer,
    QueueStatus,
    Receipt,
    Sealer,
)
from kiosk.sync.sequence import Minter, Taken, fold_high_water
from kiosk.sync.storage import StorageError, StorageFull
from kiosk.sync.transactions import Connections

# Names other modules import from here since before the outbox was split in four.
__all__ = ["DB_NAME", "PAYLOAD_FORMAT", "SUBMISSION_KINDS", "Alert", "Capacity", "DeadLetter",
           "EnvelopeMeta", "Item", "NoSealer", "Outbox", "QueueStatus", "Receipt", "Sealer",
           "StorageError", "StorageFull"]

log = logging.getLogger(__name__)

DB_NAME = "outbox.db"
MAX_REASON = 300  # a bureau's reason is kept for the technician, not its whole body
PAYLOAD_FORMAT = 1
# SubmissionKind in docs/bureau-api.yaml
SUBMISSION_KINDS = frozenset({"pension_certification", "annual_review", "card_activation",
                              "card_loss_report", "card_application", "pin_reset"})
RESERVED_FIELDS = frozenset({"format", "kind", "reference"})
# json.dumps(payload, ensure_ascii=False, separators=(",", ":")) without a new encoder per call
_PAYLOAD_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Outbox:
    """The queue on one SQLite file; one connection per thread, shared by the UI and the daemon.

    recover_in_flight: the draining process passes True (rows it left in flight when it died go
    back to pending); the UI passes False so it never pulls rows from under a live daemon.
    """

    def __init__(self, data_dir: Path | str, kiosk_id: str, sealer: Sealer, *,
                 min_free_mb: float = 50, max_db_mb: float | None = None,
                 recover_in_flight: bool = True, backoff: Backoff | None = None,
                 monotonic: Callable[[], float] = _clock.monotonic,
                 wall: Callable[[], float] = _clock.wall,
                 clock_synced: Callable[[], bool] = _clock.clock_synchronised,
                 boot_id: str | None = None, db_name: str = DB_NAME) -> None:
        self.path = Path(data_dir) / db_name
        self.kiosk_id = kiosk_id
        self._sealer = sealer
        # the COMMIT of an enqueue waits on fsync: a sealer may use that time for the next seal
        self._prepare_next = sealer.prepare_next if isinstance(sealer, AheadSealer) else None
        self._min_free_mb = min_free_mb
        self._backoff = backoff or Backoff()
        self._mono, self._wall, self._synced = monotonic, wall, clock_synced
        # only the draining process may spend the disk reserve
        self._db = Connections(self.path, drainer=recover_in_flight)
        self._minter = Minter(kiosk_id)
        self.quarantined = storage.prepare(self.path, now=wall())
        if max_db_mb:
            page = _int(self._conn().execute("PRAGMA page_size"))
            self._db.limit_pages(max(16, int(max_db_mb * 1024 * 1024 // page)))
        self.boot = self._start_boot(boot_id or _clock.boot_id(), recover_in_flight)

    def __repr__(self) -> str:
        return f"<Outbox {self.path} boot={self.boot}>"

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connections -----------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (tests and the bench use it to look at the file)."""
        return self._db.get()

    def close(self) -> None:
        self._db.close()

    def _start_boot(self, this_boot: str, recover: bool) -> int:
        def run(conn: sqlite3.Connection) -> int:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            count = int(meta.get("boot_count", "0"))
            if meta.get("boot_id") != this_boot:
                count += 1
                conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                 (("boot_id", this_boot), ("boot_count", str(count))))
                # Monotonic times of the previous boot mean nothing now: everything is due.
                conn.execute("UPDATE outbox SET next_attempt_at = 0, state = 'pending' "
                             "WHERE state IN ('pending', 'in_flight')")
            elif recover:
                n = conn.execute("UPDATE outbox SET state = 'pending' "
                                 "WHERE state = 'in_flight'").rowcount
                if n:
                    log.warning("event=outbox_recovered_in_flight rows=%d", n)
            self._minter.fold_other_codes(conn)
            return count
        return self._db.write(run)

    # --- the UI side -----------------------------------------------------------------------
    def can_accept(self) -> Capacity:
        """Ask before taking a citizen's data: is there room and may we write?"""
        try:
            free = storage.free_mb(self.path.parent)
        except OSError:
            return Capacity(False, "sync.storage.unavailable", 0.0)
        if free < self._min_free_mb:
            return Capacity(False, "sync.storage.full", free)
        if not _writable(self.path):
            return Capacity(False, "sync.storage.readonly", free)
        conn = self._conn()
        if self._minter.left(conn, datetime.fromtimestamp(self._wall()).date()) < 1:
            return Capacity(False, "sync.storage.sequence_exhausted", free)
        max_pages = self._db.max_pages
        if max_pages:
            used = (_int(conn.execute("PRAGMA page_count"))
                    - _int(conn.execute("PRAGMA freelist_count")))
            # Keep room for a few form-sized records with pictures (~300 KB each sealed).
            if (max_pages - used) * _int(conn.execute("PRAGMA page_size")) < 2 << 20:
                return Capacity(False, "sync.storage.full", free)
        return Capacity(True, "", free)

    def enqueue(self, kind: str, payload: Mapping[str, object]) -> Receipt:
        """Mint a reference, seal the payload, and store both in ONE transaction.

        payload holds the SubmissionPayload fields other than format, kind and reference
        (citizen, data, pictures); the outbox adds those three, since the reference is minted
        inside the transaction. Raises StorageFull (nothing kept) when the disk is full.
        """
        if kind not in SUBMISSION_KINDS:
            raise ValueError(f"unknown submission kind {kind!r}")
        if RESERVED_FIELDS & payload.keys():
            raise ValueError(f"payload may not set {sorted(RESERVED_FIELDS & payload.keys())}")
        # Serialise outside the write lock; the minted fields are spliced in under it.
        rest = _PAYLOAD_JSON.encode(payload).encode("utf-8")
        now, mono, synced = self._wall(), self._mono(), bool(self._synced())
        day = datetime.fromtimestamp(now).date()

        def run(conn: sqlite3.Connection) -> tuple[str, str, int, Taken]:
            ref, key, taken = self._minter.mint(conn, day)
            # kind is one of SUBMISSION_KINDS and the reference is [A-Z0-9-]: nothing to escape,
            # so the head is the same bytes json.dumps would give, without its cost per record.
            head = b'{"format":%d,"kind":"%s","reference":"%s"' % (
                PAYLOAD_FORMAT, kind.encode(), ref.encode())
            plaintext = head + (b"," + rest[1:] if len(rest) > 2 else b"}")
            meta = EnvelopeMeta(kind, ref, key, now, self.kiosk_id, synced, self.boot, mono)
            envelope = self._sealer.seal(plaintext, meta)
            conn.execute(
                "INSERT INTO outbox(reference, idempotency_key, kind, created_at, clock_synced, "
                "created_boot, created_mono, size, envelope, state, next_attempt_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (ref, key, kind, now, int(synced), self.boot, mono, len(plaintext), envelope,
                 mono))
            if self._prepare_next is not None:
                self._prepare_next()
            return ref, key, len(plaintext), taken

        ref, key, size, taken = self._db.write(run)
        self._minter.taken(taken)  # committed: the next mint may start from this number
        log.info("event=enqueued kind=%s reference=%s size=%d clock_synced=%s",
                 kind, ref, size, synced)
        return Receipt(ref, key, now, synced)

    # --- the daemon side -------------------------------------------------------------------
    def claim_batch(self, n: int, max_bytes: int | None = None) -> list[Item]:
        """Mark up to n due rows in flight and return them, oldest due first; with max_bytes,
        stop before the envelopes exceed it (but always take at least one row)."""
        now = self._mono()

        def run(conn: sqlite3.Connection) -> list[Item]:
            rows = conn.execute(
                "SELECT id, reference, idempotency_key, kind, envelope, attempts, created_at "
                "FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?", (now, n)).fetchall()
            if max_bytes is not None:
                total, keep = 0, 0
                for r in rows:
                    total += len(r[4])
                    if keep and total > max_bytes:
                        break
                    keep += 1
                rows = rows[:keep]
            conn.executemany("UPDATE outbox SET state = 'in_flight', attempts = attempts + 1 "
                             "WHERE id = ?", [(r[0],) for r in rows])
            return [Item(r[0], r[1], r[2], r[3], bytes(r[4]), r[5] + 1, r[6]) for r in rows]
        return self._db.write(run)

    def next_due_in(self) -> float | None:
        """Seconds until the earliest pending row is due (0 if one is due), None if none wait."""
        row = self._conn().execute("SELECT min(next_attempt_at) FROM outbox "
                                   "WHERE state = 'pending'").fetchone()
        return None if row[0] is None else max(0.0, row[0] - self._mono())

    def ack(self, ids: Iterable[int]) -> int:
        """The bureau has them: delete the rows (sealed pictures included)."""
        keys = [(i,) for i in ids]
        if not keys:
            return 0

        def run(conn: sqlite3.Connection) -> int:
            # The sequence numbers leave with the rows: keep their high-water mark (sequence).
            marks = ",".join("?" * len(keys))
            fold_high_water(conn, f"SELECT reference FROM outbox WHERE id IN ({marks})",
                             tuple(k[0] for k in keys))
            n = sum(conn.execute("DELETE FROM outbox WHERE id = ?", k).rowcount for k in keys)
            _set_meta(conn, "last_success_at", repr(self._wall()))
            return n
        n = self._db.write(run)
        if self._db.drainer:
            storage.ensure_reserve(self.path)  # once the disk has room again
        return n

    def fail(self, ids: Iterable[int], reason: str, *, retryable: bool = True,
             retry_after: float | None = None) -> None:
        """A try did not land: back to pending after a jittered backoff, or to the dead letters."""
        if not retryable:
            self.dead_letter(ids, reason)
            return
        ids = list(ids)
        now = self._mono()

        def run(conn: sqlite3.Connection) -> None:
            marks = ",".join("?" * len(ids))
            attempts = dict(conn.execute(
                f"SELECT id, attempts FROM outbox WHERE id IN ({marks})", ids).fetchall())
            conn.executemany(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ? "
                "WHERE id = ? AND state = 'in_flight'",
                [(now + self._backoff.delay(attempts[i], retry_after), reason[:MAX_REASON], i)
                 for i in ids if i in attempts])
        if ids:
            self._db.write(run)

    def dead_letter(self, ids: Iterable[int], reason: str) -> None:
        rows = [(reason[:MAX_REASON], i) for i in ids]
        if rows:
            self._db.write(lambda conn: conn.executemany(
                "UPDATE outbox SET state = 'dead', last_error = ? WHERE id = ?", rows))
            log.warning("event=dead_lettered rows=%d reason=%r", len(rows), reason[:80])

    def retry_dead(self) -> int:
        """A technician's 'try again': every dead letter goes back to pending, due now."""
        n = self._db.write(lambda conn: conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = 0, attempts = 0 "
            "WHERE state = 'dead'").rowcount)
        log.info("event=retry_dead rows=%d", n)
        return n

    def release(self, ids: Sequence[int]) -> None:
        """Put claimed rows back untouched (the daemon is stopping before it sent them)."""
        if ids:
            self._db.write(lambda conn: conn.executemany(
                "UPDATE outbox SET state = 'pending', attempts = max(attempts - 1, 0) "
                "WHERE id = ? AND state = 'in_flight'", [(i,) for i in ids]))

    def mark_success(self) -> None:
        try:
            self._db.write(lambda conn: _set_meta(conn, "last_success_at", repr(self._wall())))
        except StorageFull:
            pass  # a timestamp: never worth stopping the drain for

    # --- reading ---------------------------------------------------------------------------
    def holds(self, reference: str) -> bool:
        """Whether a submission is still waiting (acknowledged rows are deleted)."""
        return self._conn().execute("SELECT 1 FROM outbox WHERE reference = ?",
                                    (reference,)).fetchone() is not None

    def pending_count(self) -> int:
        return _int(self._conn().execute("SELECT count(*) FROM outbox WHERE state = 'pending'"))

    def status(self) -> QueueStatus:
        conn = self._conn()
        counts: dict[str, int] = dict(
            conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        oldest: tuple[float, int, float] | None = conn.execute(
            "SELECT created_at, created_boot, created_mono FROM outbox "
            "WHERE state IN ('pending', 'in_flight') ORDER BY id LIMIT 1").fetchone()
        age: float | None = None
        if oldest:
            # Same boot: the monotonic clock cannot jump; otherwise the wall clock is all we have.
            same_boot = oldest[1] == self.boot
            age = max(0.0, self._mono() - oldest[2] if same_boot else self._wall() - oldest[0])
        last: tuple[str] | None = conn.execute(
            "SELECT value FROM meta WHERE key = 'last_success_at'").fetchone()
        n_alerts = _int(conn.execute("SELECT count(*) FROM alerts"))
        pages = _int(conn.execute("PRAGMA page_count"))
        page_size = _int(conn.execute("PRAGMA page_size"))
        return QueueStatus(counts.get("pending", 0), counts.get("in_flight", 0),
                           counts.get("dead", 0), age, float(last[0]) if last else None,
                           n_alerts, pages * page_size)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Plaintext metadata of dead letters for the maintenance screen (no personal data)."""
        rows: list[tuple[int, str, str, float, int, str | None]] = self._conn().execute(
            "SELECT id, reference, kind, created_at, attempts, last_error FROM outbox "
            "WHERE state = 'dead' ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [DeadLetter(id=i, reference=ref, kind=kind, created_at=at, attempts=n,
                           last_error=error) for i, ref, kind, at, n, error in rows]

    def alerts(self) -> list[Alert]:
        return [Alert(*r) for r in self._conn().execute(
            "SELECT id, at, kind, detail FROM alerts ORDER BY id").fetchall()]

    def record_alert(self, kind: str, detail: str) -> None:
        self._db.write(lambda conn: conn.execute(
            "INSERT INTO alerts(at, kind, detail) VALUES (?, ?, ?)", (self._wall(), kind, detail)))


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def _int(cursor: sqlite3.Cursor) -> int:
    """The one integer a PRAGMA or count(*) answers."""
    row: tuple[int] = cursor.fetchone()
    return int(row[0])


def _writable(path: Path) -> bool:
    target = path if path.exists() else path.parent
    return os.access(target, os.W_OK) and os.access(path.parent, os.W_OK)
