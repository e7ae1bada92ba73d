"""Bookkeeping shared by the fault trials: what the citizen was told, what the bureau holds, and
the kiosk's processes started from the fork server."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.sync.simproc import BureauSim


@dataclass
class Ledger:
    """The citizen's side of the story, from the enqueuer's messages."""

    offered: int = 0
    acked: dict[str, str] = field(default_factory=dict)  # reference -> idempotency key
    refused: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def take(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "offer":
            self.offered += 1
        elif kind == "ack":
            assert msg[1] not in self.acked, f"reference {msg[1]} given to two citizens"
            self.acked[msg[1]] = msg[2]
        elif kind == "refused":
            self.refused[msg[1]] = self.refused.get(msg[1], 0) + 1
        elif kind in ("error", "open_failed"):
            self.errors.append(msg[1])

    def pump(self, conn: Any, seconds: float = 0.0) -> None:
        """Read messages for up to seconds (and whatever is already waiting)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if not conn.poll(max(0.0, left)):
                if left <= 0:
                    return
                continue
            try:
                self.take(conn.recv())
            except EOFError:
                return


def tally(ledger: Ledger, stored: list[tuple[str, str, str, int]]) -> dict[str, int]:
    """Counts for a queue row from the bureau's store rows (key, reference, outcome, times)."""
    keys_by_ref: dict[str, set[str]] = {}
    for key, ref, _outcome, _times in stored:
        keys_by_ref.setdefault(ref, set()).add(key)
    at_bureau = set(keys_by_ref)
    lost = [r for r, k in ledger.acked.items() if k not in keys_by_ref.get(r, set())]
    return {"offered": ledger.offered, "acknowledged": len(ledger.acked),
            "at_bureau": len(at_bureau), "lost": len(lost),
            "duplicated": sum(1 for keys in keys_by_ref.values() if len(keys) > 1),
            "extra": len(at_bureau - set(ledger.acked))}


def write_config(sim: BureauSim, data_dir: Path, dest: Path, **sync: Any) -> Path:
    """A kiosk.toml for data_dir, kept at dest (outside data_dir's file system, which may lose
    power or fill up)."""
    made = sim.kiosk_config(data_dir, **sync)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if made.resolve() != dest.resolve():
        dest.write_text(made.read_text())
        made.unlink()
    return dest


def queue_counts(data_dir: Path) -> dict[str, int]:
    db = sqlite3.connect(Path(data_dir) / "outbox.db", timeout=30)
    try:
        counts = dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    finally:
        db.close()
    return {s: counts.get(s, 0) for s in ("pending", "in_flight", "dead")}


def kill(*procs: Any) -> None:
    for p in procs:
        if p is not None and p.pid and p.exitcode is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for p in procs:
        if p is not None:
            p.join(10)


def drain_to_empty(ctx: Any, config: Path, data_dir: Path, log: Path, timeout: float = 120.0
                   ) -> dict[str, int]:
    """Run `kiosk sync run` until nothing waits, then stop it with SIGTERM; the queue counts."""
    from tests.faults import workers

    proc = ctx.Process(target=workers.sync_run, args=(str(config), str(log)), daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                q = queue_counts(data_dir)
            except sqlite3.DatabaseError:  # a damaged file the daemon has not yet set aside
                q = {"pending": -1, "in_flight": 0, "dead": 0}
            if q["pending"] + q["in_flight"] == 0:
                break
            if proc.exitcode is not None:
                raise AssertionError(f"sync daemon exited {proc.exitcode} with {q} waiting: "
                                     + log.read_text()[-2000:])
            if time.monotonic() > deadline:
                raise AssertionError(f"not drained in {timeout:.0f} s: {q}")
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGTERM)
        proc.join(20)
        return q
    finally:
        kill(proc)
