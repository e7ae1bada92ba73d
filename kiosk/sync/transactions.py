"""The outbox file's connections (one per thread) and its one shape of write: a whole IMMEDIATE
transaction that commits, or rolls back entirely and raises one of storage's typed errors."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kiosk.sync import storage
from kiosk.sync.storage import StorageFull

T = TypeVar("T")


class Connections:
    """Connections to one SQLite file, one per thread, all closed together.

    drainer: the draining process may spend the disk reserve when a write finds the disk full
    (its claims and acknowledgements are what frees the space); the UI's writes are refused.
    """

    def __init__(self, path: Path, *, drainer: bool) -> None:
        self.path = path
        self.drainer = drainer
        self.max_pages: int | None = None
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Connections {self.path} open={len(self._all)} drainer={self.drainer}>"

    def limit_pages(self, max_pages: int) -> None:
        """Cap the file at max_pages on this thread's connection and every one opened later."""
        self.max_pages = max_pages
        self.get().execute(f"PRAGMA max_page_count = {int(max_pages)}")

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened with the durability pragmas on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = storage.connect(self.path, self.max_pages)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in one IMMEDIATE transaction; any error rolls all of it back. On a full disk
        the draining process gives up the disk reserve and tries once more."""
        try:
            return self._write_once(fn)
        except StorageFull:
            if not (self.drainer and storage.release_reserve(self.path)):
                raise
            return self._write_once(fn)

    def _write_once(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self.get()
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
