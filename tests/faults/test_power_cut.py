"""Power cut: the outbox lives on a file system that forgets every write since the last fsync at a
random instant, while the citizen's side queues submissions and `kiosk sync run` drains them.
Every submission the kiosk told a citizen it had taken reaches the bureau exactly once.

The WAL's shared-memory file (-shm) is memory-mapped by SQLite; the mount keeps the page cache
(no direct_io), so the mmap works on FUSE with the product's own pragmas (WAL, synchronous=FULL,
normal locking): no test-only locking_mode. Its pages reach the server by writeback and are never
fsynced, so the cut throws them away, as a power cut would.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest

from kiosk.sync import storage
from tests.faults import workers
from tests.faults.campaign import Ledger, drain_to_empty, kill, queue_counts, tally, write_config
from tests.faults.powerfs import PowerFS
from tests.sync.simproc import BureauSim

CUTS = int(os.environ.get("FAULTS_POWER_CUTS", "200"))
SEED = int(os.environ.get("FAULTS_SEED", "20251201"))
BUDGET_S = float(os.environ.get("FAULTS_POWER_BUDGET_S", "150"))


def _fuse_usable() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if shutil.which("fusermount3") is None:
        return "fusermount3 missing (apt package fuse3; scripts/bootstrap.sh installs it)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"mfusepy or libfuse3 missing: {exc}"
    return None


def test_power_cuts_during_enqueue_and_drain_lose_and_duplicate_nothing(tmp_path, forkserver,
                                                                         fault_table):
    why = _fuse_usable()
    if why:
        print(f"power cut skipped: {why}")
        pytest.skip(why)
    rng = random.Random(SEED)
    sim = BureauSim(tmp_path / "bureau").start()
    mnt = Path("/tmp") / f"powerfs-{os.getpid()}-{tmp_path.name}"
    fs = PowerFS(mnt, forkserver)
    ledger = Ledger()
    data = mnt / "kiosk"
    logs = tmp_path / "logs"
    logs.mkdir()
    stats: dict[str, int] = {}
    cuts = in_flight_at_cut = 0
    daemon_exits: list[int] = []
    try:
        fs.start()
        cfg = write_config(sim, data, tmp_path / "kiosk.toml", batch_size=10,
                           backoff_base_s=0.02, backoff_max_s=1.0, idle_poll_s=0.05,
                           heartbeat_s=30.0, request_timeout_s=5.0)
        # The data folder must exist after a cut before the first fsync: make its name durable.
        fd = os.open(mnt, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        started = time.monotonic()
        while cuts < CUTS and time.monotonic() - started < BUDGET_S:
            ours, theirs = forkserver.Pipe(duplex=False)
            enq = forkserver.Process(
                target=workers.enqueue_loop, daemon=True,
                args=(str(data), sim.kiosk_id, sim.files["hpke_public_pem"], theirs, 10_000,
                      0.01, rng.randrange(1 << 30), str(logs / "enqueue.log")))
            dmn = forkserver.Process(target=workers.sync_run, daemon=True,
                                     args=(str(cfg), str(logs / "daemon.log")))
            enq.start()
            dmn.start()
            theirs.close()
            # At a random instant: while opening, mid-enqueue, mid-claim, mid-batch, mid-ack...
            ledger.pump(ours, rng.uniform(0.03, 0.6))
            if dmn.exitcode is not None:  # it stopped by itself, before any cut
                daemon_exits.append(dmn.exitcode)
            stats = fs.cut()
            before_cut = len(ledger.errors)
            kill(enq, dmn)
            ledger.pump(ours)
            # Between the cut and the kill every call fails with EIO: that is the power going,
            # not a fault of the kiosk's.
            del ledger.errors[before_cut:]
            ours.close()
            fs.remount()
            cuts += 1
            if queue_counts(data)["in_flight"]:
                in_flight_at_cut += 1
        cut_s = time.monotonic() - started
        q = drain_to_empty(forkserver, cfg, data, logs / "daemon.log")
        stats = fs.stats()
        quarantined = storage.quarantined_count(data / "outbox.db")
        counts = tally(ledger, sim.stored())
        detail = (f"{cuts} cuts in {cut_s:.0f} s, {in_flight_at_cut} with a batch in flight; "
                  f"{stats['lost_bytes']} unsynced bytes and {stats['lost_names']} names thrown "
                  f"away; {stats['mmap_shm_writes']} -shm page writebacks; files quarantined: "
                  f"{quarantined}")
        fault_table.add_queue("power cut (FUSE, enqueue+drain)", trials=cuts, detail=detail,
                              **counts)
        print(f"\npower cut: {counts} {detail} refused={ledger.refused} final_queue={q}")
        assert not ledger.errors, ledger.errors[:3]
        assert quarantined == 0, "a power cut made a file look corrupt"
        assert not daemon_exits, (daemon_exits, (logs / "daemon.log").read_text()[-2000:])
        assert cuts >= min(CUTS, 200), f"only {cuts} cuts in the time budget"
        assert counts["lost"] == 0 and counts["duplicated"] == 0, counts
        assert q["dead"] == 0
        assert in_flight_at_cut > 0, "no cut landed while a batch was in flight"
        assert stats["mmap_shm_writes"] > 0, "the -shm file was never written through the mount"
        assert len(ledger.acked) > cuts  # the trials queued real work
    finally:
        fs.stop()
        sim.stop()
        shutil.rmtree(mnt, ignore_errors=True)
