"""Finding 8: a full disk. The outbox lives on a size-limited tmpfs; citizens keep submitting
(applications with photos) until the kiosk refuses, something else fills the last bytes, and then
`kiosk sync run` must still drain the queue, whose sending is what frees the space. New
submissions are refused before any data is taken while there is no room."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.faults import workers
from tests.faults.campaign import Ledger, kill, queue_counts, tally, write_config
from tests.sync.simproc import BureauSim

SIZE_MB = 24
STARTS = 4  # systemd's Restart= would go on for ever; four starts show whether it moves


@pytest.fixture
def small_disk(tmp_path):
    mnt = Path("/tmp") / f"kfull-{os.getpid()}-{tmp_path.name}"
    mnt.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m,mode=0755", "tmpfs",
                           str(mnt)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})"
        print(f"disk full skipped: {reason}")
        pytest.skip(reason)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)
        mnt.rmdir()


def _fill(mnt: Path) -> int:
    """Another writer (logs, a core dump) takes every byte left."""
    n = 0
    with open(mnt / "filler", "ab") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
                n += 65536
        except OSError:
            pass
    return n


def test_full_disk_keeps_draining_and_refuses_new_submissions(small_disk, tmp_path, forkserver,
                                                              fault_table):
    sim = BureauSim(tmp_path / "bureau").start()
    data = small_disk / "kiosk"
    ledger = Ledger()
    log = tmp_path / "daemon.log"
    enq = dmn = None
    try:
        cfg = write_config(sim, data, tmp_path / "kiosk.toml", backoff_base_s=0.05,
                           backoff_max_s=1.0, idle_poll_s=0.05, min_free_mb=1, batch_size=10)
        pem = sim.files["hpke_public_pem"]

        def citizens(limit: int, until_refused: int, pause: float):
            ours, theirs = forkserver.Pipe(duplex=False)
            p = forkserver.Process(target=workers.enqueue_loop, daemon=True,
                                   args=(str(data), sim.kiosk_id, pem, theirs, limit, pause, 7,
                                         str(tmp_path / "enqueue.log"), 160))
            p.start()
            theirs.close()
            return p, ours

        # While the bureau is away: submissions pile up until the kiosk says no.
        enq, pipe = citizens(2000, 0, 0.0)
        deadline = time.monotonic() + 60
        while sum(ledger.refused.values()) < 5 and time.monotonic() < deadline:
            ledger.pump(pipe, 0.1)
        kill(enq)
        ledger.pump(pipe)
        queued_before = queue_counts(data)["pending"]
        filler = _fill(small_disk)
        assert queued_before == len(ledger.acked) > 20, (queued_before, len(ledger.acked))

        # The bureau is back: the daemon drains (restarted as systemd would), citizens go on.
        starts, exits = 0, []
        enq, pipe = citizens(40, 0, 0.05)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ledger.pump(pipe, 0.05)
            if dmn is None or dmn.exitcode is not None:
                if dmn is not None:
                    exits.append(dmn.exitcode)
                if starts >= STARTS:
                    break
                dmn = forkserver.Process(target=workers.sync_run, daemon=True,
                                         args=(str(cfg), str(log)))
                dmn.start()
                starts += 1
            q = queue_counts(data)
            if enq.exitcode is not None and q["pending"] + q["in_flight"] == 0:
                break
        kill(enq)
        ledger.pump(pipe)
        q = queue_counts(data)
        kill(dmn)
        counts = tally(ledger, sim.stored())
        refused = sum(ledger.refused.values())
        detail = (f"{SIZE_MB} MB tmpfs, {queued_before} queued before the disk filled, "
                  f"{filler // 1024} KB taken by another writer; refused {refused} "
                  f"({ledger.refused}); daemon starts {starts}, exits {exits}; left {q}")
        fault_table.add_queue("disk full (tmpfs, enqueue+drain)", trials=1, detail=detail,
                              **counts)
        print(f"\ndisk full: {counts} {detail}")
        assert not ledger.errors, ledger.errors[:3]
        assert refused >= 5
        assert exits == [], log.read_text()[-1500:]
        assert q == {"pending": 0, "in_flight": 0, "dead": 0}, q
        assert counts["lost"] == 0 and counts["duplicated"] == 0, counts
    finally:
        kill(enq, dmn)
        sim.stop()
