"""What runs in each trial's processes (started by the fork server, killed at the fault): the
citizen's side that queues submissions, and the real `kiosk sync run`."""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from tests.sync.helpers import card_application, jpeg_bytes, loss_report


def _log_to(path: str | None) -> None:
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)


def submission(photo_px: int = 0, rng: random.Random | None = None) -> dict[str, Any]:
    """A payload the bureau simulator accepts whatever its card-proof rules: assurance 'none'
    (judged at the bureau). photo_px: a card application with a noise photo of that size (tens
    of KB); else a loss report of a few hundred bytes."""
    if photo_px:
        payload = card_application(jpeg_bytes((rng or random.Random()).randrange(1 << 30),
                                              photo_px))
    else:
        payload = loss_report()
    payload["data"]["assurance"] = {"method": "none"}
    return payload


def enqueue_loop(data_dir: str, kiosk_id: str, public_pem: str, conn: Any, limit: int,
                 pause_s: float, seed: int, log_path: str | None = None,
                 photo_px: int = 0) -> None:
    """Queue up to limit submissions as the UI does: ask can_accept() before taking the citizen's
    data, then enqueue. Tells the test ("offer",) before each, ("ack", reference, key) once the
    kiosk has told the citizen it took it, ("refused", reason) when it was turned away."""
    _log_to(log_path)
    from kiosk.sync.outbox import Outbox, StorageError
    from kiosk.sync.seal import BureauSealer

    rng = random.Random(seed)
    sealer = BureauSealer.from_pem_file(public_pem)
    try:
        ob = Outbox(Path(data_dir), kiosk_id, sealer, min_free_mb=0, recover_in_flight=False)
    except Exception as exc:  # the fault may strike while opening too
        conn.send(("open_failed", f"{type(exc).__name__}: {exc}"))
        return
    for _ in range(limit):
        conn.send(("offer",))
        cap = ob.can_accept()
        if not cap.ok:
            conn.send(("refused", cap.reason))
            time.sleep(pause_s)
            continue
        payload = submission(photo_px, rng)
        try:
            receipt = ob.enqueue("card_application" if photo_px else "card_loss_report", payload)
        except StorageError as exc:
            conn.send(("refused", exc.reason))
            time.sleep(pause_s)
            continue
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        conn.send(("ack", receipt.reference, receipt.idempotency_key))
        if pause_s:
            time.sleep(rng.uniform(0, pause_s))
    conn.send(("done",))


def sync_run(config_path: str, log_path: str | None = None) -> None:
    """`kiosk sync run --config config_path`, in this (forked) process."""
    _log_to(log_path)
    os.environ.pop("NOTIFY_SOCKET", None)
    from kiosk.cli.sync import main

    code = main(["run", "--config", config_path])
    sys.stdout.flush()
    os._exit(code)


def sync_run_with(config_path: str, log_path: str | None, busy_timeout_ms: int,
                  open_wait_s: float) -> None:
    """sync_run with shorter storage waits, so a lock 'longer than the busy timeout' takes a
    second of the campaign instead of ten."""
    from kiosk.sync import storage

    storage.BUSY_TIMEOUT_MS = busy_timeout_ms
    storage.OPEN_WAIT_S = open_wait_s  # absent before the locked-database fix: harmless
    sync_run(config_path, log_path)


def hold_lock(db_path: str, seconds: float, conn: Any) -> None:
    """Another process (a technician's sqlite3 shell, a backup tool) holding the outbox file
    exclusively for seconds, then letting go without changing anything."""
    import sqlite3

    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA locking_mode = EXCLUSIVE")
    db.execute("BEGIN EXCLUSIVE")
    db.execute("UPDATE meta SET value = value WHERE key = 'boot_count'")
    conn.send("held")
    time.sleep(seconds)
    db.execute("ROLLBACK")
    db.close()
    conn.send("released")
