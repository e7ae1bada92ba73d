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
        # photo_px: a card application with a noise photo of that size (tens of KB), else a
        # loss report of a few hundred bytes.
        payload = (card_application(jpeg_bytes(rng.randrange(1 << 30), photo_px)) if photo_px
                   else loss_report())
        try:
            receipt = ob.enqueue("card_loss_report", payload)
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
    from kiosk.sync.cli import main

    code = main(["run", "--config", config_path])
    sys.stdout.flush()
    os._exit(code)
