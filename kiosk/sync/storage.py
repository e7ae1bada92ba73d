"""The outbox's SQLite file: pragmas, schema, free-space checks, and quarantine of a corrupt file.

A corrupt file is moved aside (never deleted) so a technician can hand it to the bureau for
recovery; the kiosk carries on with a fresh file and raises an alert.
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

from kiosk.sync import reference

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4B534F42  # "KSOB": refuses to adopt some other program's SQLite file
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000  # the UI and the daemon share the file; commits are short
QUARANTINE_DIR = "quarantine"

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


@dataclass(frozen=True)
class Quarantined:
    """A corrupt database moved aside: where to, and why."""

    path: Path
    cause: str


def translate(exc: sqlite3.Error) -> StorageError:
    """Map a sqlite3 error to the outbox's typed errors (the caller has rolled back)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return StorageFull(str(exc))
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StorageCorrupt(str(exc))
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
    """None when path is a healthy outbox file (or absent); otherwise why not."""
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
        return f"{type(exc).__name__}: {exc}"[:200]
    return None


def _quarantine(path: Path, cause: str) -> Quarantined:
    qdir = path.parent / QUARANTINE_DIR
    qdir.mkdir(mode=0o750, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = qdir / f"{path.stem}-{stamp}-{os.getpid()}{path.suffix}"
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


def prepare(path: Path) -> Quarantined | None:
    """Check the file, quarantine it if it is corrupt, and create the schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        cause = _check(path)
        moved = _quarantine(path, cause) if cause else None
        fresh = not path.exists()
        conn = connect(path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for stmt in SCHEMA_SQL.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if moved:
                conn.execute("INSERT INTO alerts(at, kind, detail) VALUES (?, ?, ?)",
                             (time.time(), "outbox_quarantined",
                              f"file={moved.path.name} cause={moved.cause}"))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate(exc) from exc
        finally:
            conn.close()
        if fresh:
            # Group-writable so the UI and the daemon (one group) both write the WAL and shm.
            with contextlib.suppress(OSError):
                os.chmod(path, 0o660)
        return moved


def free_mb(directory: Path) -> float:
    usage = shutil.disk_usage(directory)
    return usage.free / (1024 * 1024)
