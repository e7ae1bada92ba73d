"""The technician audit log: SQLite, append-only (triggers refuse UPDATE and DELETE), never
containing citizen data (details are scrubbed of anything that looks like an ID number)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.domain.masking import scrub

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,            -- wall clock (may be unsynchronised; see clock_ok)
    clock_ok INTEGER NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS lockout (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    failures INTEGER NOT NULL,
    locked_until REAL NOT NULL,  -- CLOCK_MONOTONIC seconds in boot `boot`; 0 = not locked
    boot TEXT NOT NULL DEFAULT ''  -- '' in files written before: locked_until was wall time
);
"""


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    clock_ok: bool
    event: str
    detail: str

    def line(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        return f"{stamp}{'' if self.clock_ok else '?'} {self.event} {self.detail}".rstrip()


class AuditLog:
    def __init__(self, path: Path, clock_ok: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.clock_ok = clock_ok
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(lockout)")}
        if "boot" not in columns:
            self._db.execute("ALTER TABLE lockout ADD COLUMN boot TEXT NOT NULL DEFAULT ''")
        for suffix in ("", "-wal", "-shm"):  # SQLite ignores the umask; the kiosk-data group shares it
            try:
                os.chmod(f"{path}{suffix}", 0o660)
            except OSError:
                pass

    def append(self, event: str, **fields: object) -> None:
        detail = " ".join(f"{k}={v}" for k, v in fields.items())
        with self._lock:
            self._db.execute("INSERT INTO audit (at, clock_ok, event, detail) VALUES (?, ?, ?, ?)",
                             (time.time(), int(self.clock_ok), event, scrub(detail)))

    def recent(self, limit: int = 200) -> list[AuditEntry]:
        with self._lock:
            rows = self._db.execute("SELECT id, at, clock_ok, event, detail FROM audit "
                                    "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [AuditEntry(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def events(self) -> list[str]:
        return [e.event for e in reversed(self.recent(10_000))]

    # Lockout state lives beside the log so a restart does not reset the count. The deadline is
    # monotonic time, meaningful only within the boot named beside it (see maintenance.py).
    def lockout(self) -> tuple[int, float, str]:
        """(failures, locked_until, boot)."""
        with self._lock:
            row = self._db.execute("SELECT failures, locked_until, boot FROM lockout "
                                   "WHERE id = 1").fetchone()
        return (row[0], row[1], row[2]) if row else (0, 0.0, "")

    def set_lockout(self, failures: int, locked_until: float, boot: str = "") -> None:
        with self._lock:
            self._db.execute("INSERT INTO lockout (id, failures, locked_until, boot) "
                             "VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                             "failures = excluded.failures, locked_until = excluded.locked_until, "
                             "boot = excluded.boot", (failures, locked_until, boot))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<AuditLog {self.path}>"
