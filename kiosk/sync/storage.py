"""The outbox's SQLite file: pragmas, schema, free-space checks, and quarantine of a corrupt file.

A corrupt file (SQLITE_CORRUPT / NOTADB, or a failed quick_check) is moved aside, never deleted,
and every sealed record still readable in it is salvaged into the fresh file (the idempotency keys
make resending safe); the file stays in quarantine for the technician. Anything else (a lock held
by another process, an I/O error) is waited for or reported, never quarantined.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.sync import reference, salvage

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4B534F42  # "KSOB": refuses to adopt some other program's SQLite file
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000  # the UI and the daemon share the file; commits are short
QUARANTINE_DIR = "quarantine"
# A lock held longer than the busy timeout (a technician's sqlite3 shell, a backup) is waited for
# this long in all when the file is opened, then reported as StorageBusy: never a quarantine.
OPEN_WAIT_S = 60.0
# Disk kept aside for the drain's WAL (see ensure_reserve): a claim and an acknowledgement of a
# batch of applications with photos, with secure_delete zeroing what the ack frees.
RESERVE_BYTES = 4 * 1024 * 1024
_CORRUPT = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    reference       TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    created_at      REAL NOT NULL,      -- wall clock (may be wrong: see clock_synced)
    clock_synced    INTEGER NOT NULL,   -- 1 when chrony had synchronised the clock
    created_boot    INTEGER NOT NULL,   -- boot counter (meta.boot_count) at creation
    created_mono    REAL NOT NULL,      -- monotonic clock at creation, meaningful in that boot
    size            INTEGER NOT NULL,   -- plaintext bytes (the envelope says the same)
    envelope        BLOB NOT NULL,      -- sealed to the bureau: the kiosk cannot read it back
    state           TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,      -- monotonic seconds of the current boot (re-based per boot)
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id     INTEGER PRIMARY KEY,
    at     REAL NOT NULL,
    kind   TEXT NOT NULL,
    detail TEXT NOT NULL
);
""" + reference.SCHEMA_SQL


class StorageError(Exception):
    """The outbox cannot store or read; reason is a message key the UI can explain."""

    reason = "sync.storage.error"


class StorageFull(StorageError):
    """The disk (or the queue's configured cap) is full; nothing of the failed write was kept."""

    reason = "sync.storage.full"


class StorageCorrupt(StorageError):
    """The file went bad while open; the next start quarantines it."""

    reason = "sync.storage.corrupt"


class StorageBusy(StorageError):
    """Another process held the file locked for longer than we wait; nothing was changed."""

    reason = "sync.storage.busy"


@dataclass(frozen=True)
class Quarantined:
    """A corrupt database moved aside: where to, why, and how many records came back from it."""

    path: Path
    cause: str
    salvaged: int = 0


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def translate(exc: sqlite3.Error) -> StorageError:
    """Map a sqlite3 error to the outbox's typed errors (the caller has rolled back)."""
    code = _code(exc)
    if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return StorageFull(str(exc))
    if code in _CORRUPT:
        return StorageCorrupt(str(exc))
    if code in _BUSY:
        return StorageBusy(str(exc))
    if isinstance(exc, OSError) and exc.errno == 28:
        return StorageFull(str(exc))
    return StorageError(str(exc))


def connect(path: Path, max_page_count: int | None = None) -> sqlite3.Connection:
    """One connection with the durability pragmas; autocommit mode, callers BEGIN explicitly."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit the citizen saw as a receipt survives a power cut (one fdatasync each).
    conn.execute("PRAGMA synchronous = FULL")
    # Acknowledged rows are deleted; zero their pages so sealed copies of face pictures do not
    # linger in free pages longer than the bureau needed them.
    conn.execute("PRAGMA secure_delete = ON")
    if max_page_count:
        conn.execute(f"PRAGMA max_page_count = {int(max_page_count)}")
    return conn


def _check(path: Path) -> str | None:
    """None when path is a healthy outbox file (or absent); otherwise why it is corrupt. Errors
    that say nothing about the file's health (locked, I/O, permissions) are raised, not judged."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables and app_id != APPLICATION_ID:
                return f"foreign database application_id={app_id:#x}"
            result = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            if result != ["ok"]:
                return "quick_check: " + "; ".join(result[:3])[:200]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if _code(exc) in _CORRUPT:
            return f"{type(exc).__name__}: {exc}"[:200]
        raise
    return None


def _quarantine(path: Path, cause: str) -> Quarantined:
    qdir = path.parent / QUARANTINE_DIR
    qdir.mkdir(mode=0o750, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = qdir / f"{path.stem}-{stamp}-{os.getpid()}{path.suffix}"
    n = 1
    while base.exists():  # a second loss in the same second must not replace the first file
        base = qdir / f"{path.stem}-{stamp}-{os.getpid()}-{n}{path.suffix}"
        n += 1
    # Move the -wal and -shm with it: a stale WAL next to a fresh file would be replayed into it.
    for suffix in ("", "-wal", "-shm", "-journal"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, Path(str(base) + suffix))
    _fsync_dir(qdir)
    _fsync_dir(path.parent)
    log.error("event=outbox_quarantined file=%s cause=%r", base.name, cause)
    return Quarantined(base, cause)


def quarantined_count(path: Path) -> int:
    qdir = path.parent / QUARANTINE_DIR
    if not qdir.is_dir():
        return 0
    return sum(1 for p in qdir.glob(f"{path.stem}-*{path.suffix}"))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # The UI and the daemon may start together; only one may judge and move the file.
    with open(str(path) + ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def prepare(path: Path, now: float | None = None) -> Quarantined | None:
    """Check the file, quarantine it if it is corrupt (salvaging every record still readable in
    it into the fresh file), and create the schema. A lock held by another process is waited for
    up to OPEN_WAIT_S in all, then reported as StorageBusy with the file untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + OPEN_WAIT_S
    with _locked(path):
        cause = _waiting(path, deadline, lambda: _check(path))
        moved, found = None, salvage.Salvage()
        if cause:
            moved = _quarantine(path, cause)
            found = salvage.salvage(moved.path)
        fresh = not path.exists()
        kept = _waiting(path, deadline, lambda: _create(path, moved, found, now))
        ensure_reserve(path)
        if fresh:
            # Group-writable so the UI and the daemon (one group) both write the WAL and shm.
            with contextlib.suppress(OSError):
                os.chmod(path, 0o660)
        if moved:
            log.warning("event=outbox_salvaged file=%s method=%s found=%d restored=%d",
                        moved.path.name, found.method, len(found.rows), kept)
            return Quarantined(moved.path, moved.cause, kept)
        return None


def _waiting(path: Path, deadline: float, fn: Any) -> Any:
    """fn(), again while the file is locked by another process, until deadline."""
    told = False
    while True:
        try:
            return fn()
        except (sqlite3.OperationalError, StorageBusy) as exc:
            if not isinstance(exc, StorageBusy) and _code(exc) not in _BUSY:
                raise translate(exc) from exc
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("event=outbox_locked file=%s waited_s=%.0f reason=%r", path.name,
                          OPEN_WAIT_S, str(exc))
                raise StorageBusy(f"{path.name} is locked by another process (waited "
                                  f"{OPEN_WAIT_S:.0f} s): {exc}") from exc
            if not told:
                log.warning("event=outbox_locked_waiting file=%s up_to_s=%.0f", path.name, left)
                told = True
            time.sleep(min(0.25, left))


def _create(path: Path, moved: Quarantined | None, found: salvage.Salvage, now: float | None) -> int:
    """The schema, and after a quarantine the salvaged rows, floors and alert: one commit."""
    conn = connect(path)
    try:
        if moved is None and _current(conn):
            return 0  # nothing to write: a full disk must not stop the file from opening
        conn.execute("BEGIN IMMEDIATE")
        for stmt in SCHEMA_SQL.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        kept = 0
        if moved:
            kept = _restore(conn, found, path, now)
            conn.execute("INSERT INTO alerts(at, kind, detail) VALUES (?, ?, ?)",
                         (time.time(), "outbox_quarantined",
                          f"file={moved.path.name} cause={moved.cause} salvaged={kept}"))
        conn.execute("COMMIT")
        return kept
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _current(conn: sqlite3.Connection) -> bool:
    """The file already has this schema version: every table, our application id."""
    if (conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID
            or conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION):
        return False
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    return {"outbox", "outbox_due", "meta", "alerts", "ref_sequence"} <= names


def _restore(conn: sqlite3.Connection, found: salvage.Salvage, path: Path, now: float | None) -> int:
    """Put salvaged records back (due now; dead letters stay dead) and keep every sequence number
    they or the lost file used from being minted again."""
    kept = 0
    marks = ",".join("?" * len(salvage.COLUMNS))
    for row in found.rows:
        values = dict(zip(salvage.COLUMNS, row))
        values["state"] = "dead" if values["state"] == "dead" else "pending"
        values["created_boot"] = 0  # a boot of the lost file: ages go by the wall clock
        try:
            kept += conn.execute(
                f"INSERT OR IGNORE INTO outbox({','.join(salvage.COLUMNS)}, next_attempt_at) "
                f"VALUES ({marks}, 0)", [values[c] for c in salvage.COLUMNS]).rowcount
        except sqlite3.IntegrityError:
            continue  # a damaged record (a NULL where a value must be): not a submission
    floors = dict(found.sequences)
    for row in found.rows:
        ref = str(row[0])
        day, seq = ref[-17:-9], int(ref[-8:-2])
        floors[day] = max(floors.get(day, 0), seq)
    # Today the damaged pages may have hidden numbers already given to citizens: skip a gap, one
    # more for each file lost today, so that even a file that yielded nothing cannot bring back
    # a number of an earlier loss.
    today = time.strftime("%Y%m%d", time.localtime(time.time() if now is None else now))
    lost_today = _quarantined_on(path, today)
    floors[today] = min(max(floors.get(today, 0), (lost_today - 1) * reference.QUARANTINE_GAP)
                        + reference.QUARANTINE_GAP, reference.SEQ_MAX)
    conn.executemany("INSERT INTO ref_sequence(day, last) VALUES (?, ?) "
                     "ON CONFLICT(day) DO UPDATE SET last = max(last, excluded.last)",
                     sorted(floors.items()))
    return kept


def _quarantined_on(path: Path, day: str) -> int:
    qdir = path.parent / QUARANTINE_DIR
    n = 0
    for p in qdir.glob(f"{path.stem}-*{path.suffix}"):
        with contextlib.suppress(OSError):
            n += time.strftime("%Y%m%d", time.localtime(p.stat().st_mtime)) == day
    return max(n, 1)


def reserve_path(path: Path) -> Path:
    return Path(str(path) + "-reserve")


def ensure_reserve(path: Path) -> bool:
    """Keep RESERVE_BYTES of the disk set aside next to the queue file, while there is room for
    it and more. Only the draining process gives it up (release_reserve), for the WAL of the
    claims and acknowledgements that free the space: a full disk never stops the drain."""
    target = reserve_path(path)
    try:
        if target.exists():
            return True
        if shutil.disk_usage(path.parent).free < 2 * RESERVE_BYTES:
            return False
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            target.unlink(missing_ok=True)
            return False
        os.close(fd)
        log.info("event=outbox_reserve_made bytes=%d", RESERVE_BYTES)
        return True
    except OSError:
        return False


def release_reserve(path: Path) -> bool:
    """Give the reserve back to the file system; False when there was none to give."""
    try:
        reserve_path(path).unlink()
    except FileNotFoundError:
        return False
    log.warning("event=outbox_reserve_released bytes=%d", RESERVE_BYTES)
    return True


def free_mb(directory: Path) -> float:
    usage = shutil.disk_usage(directory)
    return usage.free / (1024 * 1024)
