"""The durable outbox: sealed submissions wait here (SQLite, WAL, synchronous=FULL) for the bureau.

States: pending -> in_flight -> deleted on acknowledgement, or dead (a permanent refusal) until a
technician retries it. Retry times are monotonic seconds of the current boot, so a wall-clock jump
neither stalls nor floods the queue; on a new boot every waiting row comes due at once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from kiosk.sync import clock as _clock
from kiosk.sync import reference, storage
from kiosk.sync.backoff import Backoff
from kiosk.sync.storage import StorageError, StorageFull  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

DB_NAME = "outbox.db"
MAX_REASON = 300  # a bureau's reason is kept for the technician, not its whole body
PAYLOAD_FORMAT = 1
# SubmissionKind in docs/bureau-api.yaml
SUBMISSION_KINDS = frozenset({"pension_certification", "annual_review", "card_activation",
                              "card_loss_report", "card_application", "pin_reset"})
RESERVED_FIELDS = frozenset({"format", "kind", "reference"})


@dataclass(frozen=True)
class EnvelopeMeta:
    """What the kiosk says about a submission in the clear: never personal data."""

    kind: str
    reference: str
    idempotency_key: str
    created_at: float
    kiosk_id: str
    clock_synced: bool
    boot: int
    created_mono: float


class Sealer(Protocol):
    def seal(self, payload: bytes, meta: EnvelopeMeta) -> bytes: ...


class NoSealer:
    """For processes that only drain or inspect the queue (the daemon, the CLI): they need no
    bureau key, so a missing key file never stops the queue from draining."""

    def seal(self, payload: bytes, meta: EnvelopeMeta) -> bytes:
        raise RuntimeError("this process does not queue submissions")


@dataclass(frozen=True)
class Receipt:
    """What the citizen's receipt shows: the reference, and the key that makes resending safe."""

    reference: str
    idempotency_key: str
    created_at: float
    clock_synced: bool


@dataclass(frozen=True)
class Item:
    """One claimed row, ready to send."""

    id: int
    reference: str
    idempotency_key: str
    kind: str
    envelope: bytes
    attempts: int
    created_at: float


@dataclass(frozen=True)
class Capacity:
    """Whether a new submission can be stored, asked before the citizen types anything."""

    ok: bool
    reason: str  # message key, "" when ok
    free_mb: float


@dataclass(frozen=True)
class QueueStatus:
    pending: int
    in_flight: int
    dead: int
    oldest_pending_age_s: float | None
    last_success_at: float | None  # wall clock of the last acknowledged batch or heartbeat
    alerts: int
    db_bytes: int


@dataclass(frozen=True)
class Alert:
    id: int
    at: float
    kind: str
    detail: str


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
        self._min_free_mb = min_free_mb
        self._max_pages: int | None = None
        self._backoff = backoff or Backoff()
        self._mono, self._wall, self._synced = monotonic, wall, clock_synced
        self._local = threading.local()
        self._drainer = recover_in_flight  # only the draining process may spend the reserve
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self.quarantined = storage.prepare(self.path, now=wall())
        if max_db_mb:
            page = self._conn().execute("PRAGMA page_size").fetchone()[0]
            self._max_pages = max(16, int(max_db_mb * 1024 * 1024 // page))
            self._conn().execute(f"PRAGMA max_page_count = {self._max_pages}")
        self._code = ""  # the kiosk id as references spell it; worked out at the first mint
        self.boot = self._start_boot(boot_id or _clock.boot_id(), recover_in_flight)

    def __repr__(self) -> str:
        return f"<Outbox {self.path} boot={self.boot}>"

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connections -----------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = storage.connect(self.path, self._max_pages)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._conns:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run fn in one IMMEDIATE transaction; any error rolls all of it back. On a full disk
        the draining process gives up the disk reserve and tries once more: its writes (claims,
        acknowledgements) are what frees the space. The UI's enqueue is refused instead."""
        try:
            return self._write_once(fn)
        except StorageFull:
            if not (self._drainer and storage.release_reserve(self.path)):
                raise
            return self._write_once(fn)

    def _write_once(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = fn(conn)
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise storage.translate(exc) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

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
            _fold_high_water(conn, "SELECT reference FROM outbox", ())
            return count
        return self._write(run)

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
        if self._sequence_left() < 1:
            return Capacity(False, "sync.storage.sequence_exhausted", free)
        if self._max_pages:
            conn = self._conn()
            used = (conn.execute("PRAGMA page_count").fetchone()[0]
                    - conn.execute("PRAGMA freelist_count").fetchone()[0])
            # Keep room for a few form-sized records with pictures (~300 KB each sealed).
            if (self._max_pages - used) * conn.execute("PRAGMA page_size").fetchone()[0] < 2 << 20:
                return Capacity(False, "sync.storage.full", free)
        return Capacity(True, "", free)

    def enqueue(self, kind: str, payload: Mapping[str, Any]) -> Receipt:
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
        rest = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        now, mono, synced = self._wall(), self._mono(), bool(self._synced())
        day = datetime.fromtimestamp(now).date()

        def run(conn: sqlite3.Connection) -> tuple[Receipt, int]:
            ref = self._mint(conn, day)
            # kind is one of SUBMISSION_KINDS and the reference is [A-Z0-9-]: nothing to escape,
            # so the head is the same bytes json.dumps would give, without its cost per record.
            head = b'{"format":%d,"kind":"%s","reference":"%s"' % (
                PAYLOAD_FORMAT, kind.encode(), ref.text.encode())
            plaintext = head + (b"," + rest[1:] if len(rest) > 2 else b"}")
            meta = EnvelopeMeta(kind, ref.text, ref.idempotency_key, now, self.kiosk_id, synced,
                                self.boot, mono)
            envelope = self._sealer.seal(plaintext, meta)
            conn.execute(
                "INSERT INTO outbox(reference, idempotency_key, kind, created_at, clock_synced, "
                "created_boot, created_mono, size, envelope, state, next_attempt_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (ref.text, ref.idempotency_key, kind, now, int(synced), self.boot, mono,
                 len(plaintext), envelope, mono))
            # the COMMIT that follows waits on fsync: a sealer may use that time for the next seal
            if (prepare := getattr(self._sealer, "prepare_next", None)) is not None:
                prepare()
            return Receipt(ref.text, ref.idempotency_key, now, synced), len(plaintext)

        receipt, size = self._write(run)
        log.info("event=enqueued kind=%s reference=%s size=%d clock_synced=%s",
                 kind, receipt.reference, size, synced)
        return receipt

    def _mint(self, conn: sqlite3.Connection, day: date) -> reference.Reference:
        """The next reference for day, inside the caller's transaction.

        The last number used is the larger of the day's newest queued row (found through the
        reference index) and ref_sequence, which keeps the high-water mark of rows that left
        the queue: ack() writes it in the same transaction as the delete, and opening the
        file folds in every queued row. A number is therefore never minted twice, yet an
        enqueue writes only its own row: no sequence row to update in every durable commit.
        """
        ymd = f"{day.year:04d}{day.month:02d}{day.day:02d}"
        nxt = self._last_sequence(conn, ymd) + 1
        while True:
            if nxt > reference.SEQ_MAX:
                raise reference.SequenceExhausted(f"day={ymd} sequence exhausted")
            text = reference.format_reference(self.kiosk_id, day, nxt)
            if text is not None:
                return reference.Reference(text, str(uuid.uuid4()), ymd, nxt)
            nxt += 1

    def _last_sequence(self, conn: sqlite3.Connection, ymd: str) -> int:
        """The last number used on day ymd (see _mint). After a quarantine the fresh file's
        ref_sequence holds the floor storage.prepare set (reference.QUARANTINE_GAP)."""
        self._code = self._code or reference.kiosk_code(self.kiosk_id)
        prefix = f"{self._code}-{ymd}-"
        return int(conn.execute(
            "SELECT max(coalesce((SELECT last FROM ref_sequence WHERE day = ?), 0), "
            "coalesce((SELECT CAST(substr(reference, ?, ?) AS INTEGER) FROM outbox "
            "WHERE reference >= ? AND reference < ? ORDER BY reference DESC LIMIT 1), 0))",
            (ymd, len(prefix) + 1, reference.SEQ_DIGITS, prefix, prefix + "~")).fetchone()[0])

    def _sequence_left(self) -> int:
        """Reference numbers still free today: can_accept says no before enqueue would fail."""
        day = datetime.fromtimestamp(self._wall()).date()
        last = self._last_sequence(self._conn(), f"{day.year:04d}{day.month:02d}{day.day:02d}")
        return reference.SEQ_MAX - last

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
        return self._write(run)

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
            # The sequence numbers leave with the rows: keep their high-water mark (see _mint).
            marks = ",".join("?" * len(keys))
            _fold_high_water(conn, f"SELECT reference FROM outbox WHERE id IN ({marks})",
                             tuple(k[0] for k in keys))
            n = sum(conn.execute("DELETE FROM outbox WHERE id = ?", k).rowcount for k in keys)
            _set_meta(conn, "last_success_at", repr(self._wall()))
            return n
        n = self._write(run)
        if self._drainer:
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
            self._write(run)

    def dead_letter(self, ids: Iterable[int], reason: str) -> None:
        rows = [(reason[:MAX_REASON], i) for i in ids]
        if rows:
            self._write(lambda conn: conn.executemany(
                "UPDATE outbox SET state = 'dead', last_error = ? WHERE id = ?", rows))
            log.warning("event=dead_lettered rows=%d reason=%r", len(rows), reason[:80])

    def retry_dead(self) -> int:
        """A technician's 'try again': every dead letter goes back to pending, due now."""
        n = self._write(lambda conn: conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = 0, attempts = 0 "
            "WHERE state = 'dead'").rowcount)
        log.info("event=retry_dead rows=%d", n)
        return n

    def release(self, ids: Sequence[int]) -> None:
        """Put claimed rows back untouched (the daemon is stopping before it sent them)."""
        if ids:
            self._write(lambda conn: conn.executemany(
                "UPDATE outbox SET state = 'pending', attempts = max(attempts - 1, 0) "
                "WHERE id = ? AND state = 'in_flight'", [(i,) for i in ids]))

    def mark_success(self) -> None:
        try:
            self._write(lambda conn: _set_meta(conn, "last_success_at", repr(self._wall())))
        except StorageFull:
            pass  # a timestamp: never worth stopping the drain for

    # --- reading ---------------------------------------------------------------------------
    def holds(self, reference: str) -> bool:
        """Whether a submission is still waiting (acknowledged rows are deleted)."""
        return self._conn().execute("SELECT 1 FROM outbox WHERE reference = ?", (reference,)).fetchone() is not None

    def pending_count(self) -> int:
        return self._conn().execute(
            "SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]

    def status(self) -> QueueStatus:
        conn = self._conn()
        counts = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        oldest = conn.execute(
            "SELECT created_at, created_boot, created_mono FROM outbox "
            "WHERE state IN ('pending', 'in_flight') ORDER BY id LIMIT 1").fetchone()
        age = None
        if oldest:
            # Same boot: the monotonic clock cannot jump; otherwise the wall clock is all we have.
            same_boot = oldest[1] == self.boot
            age = max(0.0, self._mono() - oldest[2] if same_boot else self._wall() - oldest[0])
        last = conn.execute("SELECT value FROM meta WHERE key = 'last_success_at'").fetchone()
        n_alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        return QueueStatus(counts.get("pending", 0), counts.get("in_flight", 0),
                           counts.get("dead", 0), age, float(last[0]) if last else None,
                           n_alerts, pages * page_size)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Plaintext metadata of dead letters for the maintenance screen (no personal data)."""
        rows = self._conn().execute(
            "SELECT id, reference, kind, created_at, attempts, last_error FROM outbox "
            "WHERE state = 'dead' ORDER BY id LIMIT ?", (limit,)).fetchall()
        keys = ("id", "reference", "kind", "created_at", "attempts", "last_error")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def alerts(self) -> list[Alert]:
        return [Alert(*r) for r in self._conn().execute(
            "SELECT id, at, kind, detail FROM alerts ORDER BY id").fetchall()]

    def record_alert(self, kind: str, detail: str) -> None:
        self._write(lambda conn: conn.execute(
            "INSERT INTO alerts(at, kind, detail) VALUES (?, ?, ?)", (self._wall(), kind, detail)))


def _fold_high_water(conn: sqlite3.Connection, select: str, args: tuple[Any, ...]) -> None:
    """Raise ref_sequence to the highest sequence of each day among the references select gives.
    A reference ends in YYYYMMDD-SEQ-C (17 characters) whatever the kiosk code before it."""
    conn.execute(
        "INSERT INTO ref_sequence(day, last) "
        f"SELECT substr(reference, -17, 8), max(CAST(substr(reference, -8, 6) AS INTEGER)) "
        f"FROM ({select}) WHERE true GROUP BY 1 "
        "ON CONFLICT(day) DO UPDATE SET last = max(last, excluded.last)", args)


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def _writable(path: Path) -> bool:
    import os
    target = path if path.exists() else path.parent
    return os.access(target, os.W_OK) and os.access(path.parent, os.W_OK)
