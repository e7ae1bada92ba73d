"""The simulator's SQLite store (WAL, synchronous=FULL): first answers, records, verdicts."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    idempotency_key TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    kind TEXT,
    outcome TEXT NOT NULL,
    answer TEXT NOT NULL,          -- the first answer, canonical JSON, repeated verbatim
    answered_at TEXT NOT NULL,
    times_received INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS records (
    idempotency_key TEXT PRIMARY KEY REFERENCES submissions(idempotency_key),
    kind TEXT NOT NULL,
    id_number TEXT NOT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL          -- decrypted payload; pictures replaced by their digests
);
CREATE INDEX IF NOT EXISTS records_by_citizen ON records(id_number, created_at);
CREATE TABLE IF NOT EXISTS verifications (
    verification_id TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    created_unix REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS card_challenges (  -- issued, not yet answered (one answer each)
    challenge_id TEXT PRIMARY KEY,
    challenge TEXT NOT NULL,
    card_number TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    created_unix REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS card_challenges_seen (  -- every challenge a cryptogram was judged for
    card_number TEXT NOT NULL,
    challenge TEXT NOT NULL,
    seen_unix REAL NOT NULL,
    PRIMARY KEY (card_number, challenge)
);
CREATE TABLE IF NOT EXISTS card_auths (
    card_auth_id TEXT PRIMARY KEY,
    card_number TEXT NOT NULL,
    kiosk_id TEXT NOT NULL,
    created_unix REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS heartbeats (
    kiosk_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kiosk_settings (
    kiosk_id TEXT PRIMARY KEY,
    settings TEXT NOT NULL
);
"""


class Store:
    """One connection behind a lock: the simulator's throughput is bounded by fsync anyway."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything a batch stores commits together, before the answer is sent."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def script(self, sql: str) -> None:
        with self.lock:
            self._db.executescript(sql)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self._db.execute(sql, params).fetchall()

    def changed(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one write; the number of rows it changed."""
        with self.lock:
            return self._db.execute(sql, params).rowcount

    def first_answer(self, key: str) -> str | None:
        with self.lock:
            row = self._db.execute(
                "SELECT answer FROM submissions WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if row is not None:
                self._db.execute(
                    "UPDATE submissions SET times_received = times_received + 1 "
                    "WHERE idempotency_key = ?", (key,),
                )
            return None if row is None else str(row[0])

    def put_answer(self, key: str, reference: str, kiosk_id: str, kind: str | None,
                   outcome: str, answer: str, answered_at: str) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO submissions (idempotency_key, reference, kiosk_id, kind, outcome,"
                " answer, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, reference, kiosk_id, kind, outcome, answer, answered_at),
            )

    def put_record(self, key: str, kind: str, id_number: str, created_at: str,
                   payload: str) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                (key, kind, id_number, created_at, payload),
            )

    def events(self, id_number: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT kind, created_at FROM records WHERE id_number = ? ORDER BY created_at",
                (id_number,),
            ).fetchall()
        return [{"kind": kind, "created_at": created} for kind, created in rows]

    def certified_this_year(self, year: int) -> set[str]:
        with self.lock:
            rows = self._db.execute(
                "SELECT DISTINCT id_number FROM records WHERE kind = 'pension_certification'"
                " AND substr(created_at, 1, 4) = ?", (f"{year:04d}",),
            ).fetchall()
        return {row[0] for row in rows}

    def put_verification(self, verification_id: str, id_number: str, verdict: str,
                         score: float) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO verifications VALUES (?, ?, ?, ?, ?)",
                (verification_id, id_number, verdict, score, time.time()),
            )

    def verification(self, verification_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT id_number, verdict, score, created_unix FROM verifications"
                " WHERE verification_id = ?", (verification_id,),
            ).fetchone()
        if row is None:
            return None
        return {"id_number": row[0], "verdict": row[1], "score": row[2], "created_unix": row[3]}

    def put_card_challenge(self, challenge_id: str, challenge: str, card_number: str,
                           kiosk_id: str) -> None:
        with self.lock:
            self._db.execute("INSERT INTO card_challenges VALUES (?, ?, ?, ?, ?)",
                             (challenge_id, challenge, card_number, kiosk_id, time.time()))

    def take_card_challenge(self, challenge_id: str) -> dict[str, Any] | None:
        """The issued challenge, removed: it can be answered once."""
        with self.lock:
            row = self._db.execute(
                "DELETE FROM card_challenges WHERE challenge_id = ?"
                " RETURNING challenge, card_number, kiosk_id, created_unix", (challenge_id,),
            ).fetchone()
        if row is None:
            return None
        return {"challenge": row[0], "card_number": row[1], "kiosk_id": row[2],
                "created_unix": row[3]}

    def see_card_challenge(self, card_number: str, challenge: str) -> bool:
        """Record a challenge a cryptogram was judged for; False if it was seen before (replay)."""
        with self.lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO card_challenges_seen VALUES (?, ?, ?)",
                (card_number, challenge, time.time()),
            )
            return cur.rowcount == 1

    def put_card_auth(self, card_auth_id: str, card_number: str, kiosk_id: str) -> None:
        with self.lock:
            self._db.execute("INSERT INTO card_auths VALUES (?, ?, ?, ?)",
                             (card_auth_id, card_number, kiosk_id, time.time()))

    def card_auth(self, card_auth_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT card_number, kiosk_id, created_unix FROM card_auths"
                " WHERE card_auth_id = ?", (card_auth_id,),
            ).fetchone()
        if row is None:
            return None
        return {"card_number": row[0], "kiosk_id": row[1], "created_unix": row[2]}

    def put_heartbeat(self, kiosk_id: str, body: str, received_at: str) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO heartbeats VALUES (?, ?, ?, 1) ON CONFLICT(kiosk_id) DO UPDATE"
                " SET body = excluded.body, received_at = excluded.received_at,"
                " count = count + 1", (kiosk_id, body, received_at),
            )

    def heartbeats(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT kiosk_id, body, received_at, count FROM heartbeats"
            ).fetchall()
        return [{"kiosk_id": k, "body": b, "received_at": r, "count": c} for k, b, r, c in rows]

    def kiosk_settings(self, kiosk_id: str) -> str | None:
        with self.lock:
            row = self._db.execute(
                "SELECT settings FROM kiosk_settings WHERE kiosk_id = ?", (kiosk_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def put_kiosk_settings(self, kiosk_id: str, settings: str) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO kiosk_settings VALUES (?, ?) ON CONFLICT(kiosk_id)"
                " DO UPDATE SET settings = excluded.settings", (kiosk_id, settings),
            )

    def submissions(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT idempotency_key, reference, kiosk_id, kind, outcome, answered_at,"
                " times_received FROM submissions ORDER BY rowid"
            ).fetchall()
        names = ("idempotency_key", "reference", "kiosk_id", "kind", "outcome", "answered_at",
                 "times_received")
        return [dict(zip(names, row)) for row in rows]

    def submission(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute(
                "SELECT s.answer, s.times_received, r.payload FROM submissions s"
                " LEFT JOIN records r USING (idempotency_key) WHERE s.idempotency_key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return {"answer": row[0], "times_received": row[1], "payload": row[2]}

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self._db.execute(
                "SELECT outcome, count(*), sum(times_received) FROM submissions GROUP BY outcome"
            ).fetchall()
        out = {"stored_accepted": 0, "stored_rejected": 0, "deliveries": 0}
        for outcome, count, deliveries in rows:
            out[f"stored_{outcome}"] = count
            out["deliveries"] += deliveries or 0
        return out
