"""Sync benchmarks for `make bench`: durable sealed enqueue vs raw SQLite, and drain rates.

sync.enqueue_per_s       Outbox.enqueue of form-sized records (seal + mint + one FULL commit each)
sync.raw_insert_per_s    plain INSERTs of an envelope of the same size into the outbox's own
                         schema (same table, same three indexes, same pragmas: WAL,
                         synchronous=FULL, secure_delete), one IMMEDIATE transaction per row
sync.enqueue_vs_raw      enqueue_per_s / raw_insert_per_s (the target is >= 0.6)
sync.drain_per_s         sync daemon draining a backlog of 1,000 to the local bureau simulator
                         with 20 ms added latency per request
sync.drain_per_s_deep    the same with a backlog of 10,000 (must not fall as the backlog grows)

Enqueue and raw run in alternating blocks in one process, on one disk-backed directory, so both
see the same machine load and the same disk (never tmpfs: see bench/disk.py).
"""

from __future__ import annotations

import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.disk import durable_dir  # noqa: E402
from kiosk.sync import storage  # noqa: E402
from kiosk.sync.ipc import SyncClient  # noqa: E402
from kiosk.sync.outbox import DB_NAME, Outbox  # noqa: E402
from kiosk.sync.seal import BureauSealer  # noqa: E402
from tests.sync import simproc  # noqa: E402

ENQUEUE_N = 2000
ROUNDS = 10  # alternating blocks of ENQUEUE_N / ROUNDS rows each
BATCH = 100
LATENCY_MS = 20


KIND = "card_application"
INSERT = ("INSERT INTO outbox(reference, idempotency_key, kind, created_at, clock_synced, "
          "created_boot, created_mono, size, envelope, state, next_attempt_at) "
          "VALUES (?, ?, ?, ?, 1, 1, ?, ?, ?, 'pending', ?)")


def form_payload() -> dict[str, Any]:
    """A form-sized record: a card application with a small photo, about 2 KB of plaintext."""
    from tests.sync.helpers import card_application, jpeg_bytes
    payload = card_application(jpeg_bytes(0, 32))
    # Assurance judged at the bureau: the same payload can then be queued a thousand times (a
    # card proof's challenge is good once, and the bureau would refuse every copy but the first).
    payload["data"]["assurance"] = {"method": "none"}
    return payload


def _enqueuer(workdir: Path, sealer: BureauSealer) -> tuple[Callable[[], None], Outbox, bytes]:
    ob = Outbox(workdir / "enq", "KIOSK-0001", sealer, boot_id="bench")
    payload = form_payload()
    ob.enqueue(KIND, payload)  # warm up (schema, first pages); its envelope sizes the raw rows
    envelope = ob.claim_batch(1)[0].envelope
    return lambda: ob.enqueue(KIND, payload), ob, envelope


def _raw_inserter(workdir: Path, envelope: bytes) -> tuple[Callable[[], None], Any]:
    """The outbox table as storage.prepare makes it, written the plainest way: no seal, no mint,
    no JSON; unique reference and idempotency key per row, as the indexes require."""
    path = workdir / "raw" / DB_NAME
    path.parent.mkdir(parents=True)
    storage.prepare(path)
    conn = storage.connect(path)
    count = [0]

    def insert() -> None:
        count[0] += 1
        i = count[0]
        now = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT, (f"KIOSK0001-20250101-{i:06d}-X", f"00000000-0000-4000-8000-{i:012d}",
                              KIND, 1.7e9 + i, now, len(envelope), envelope, now))
        conn.execute("COMMIT")

    insert()  # warm up like the enqueue side
    return insert, conn


def bench_enqueue_vs_raw(workdir: Path, sealer: BureauSealer,
                         n: int = ENQUEUE_N) -> tuple[float, float, int]:
    """(enqueue per s, raw insert per s, envelope bytes), measured in alternating blocks."""
    enqueue, ob, envelope = _enqueuer(workdir, sealer)
    raw, conn = _raw_inserter(workdir, envelope)
    spent = {"enqueue": 0.0, "raw": 0.0}
    block = max(1, n // ROUNDS)
    try:
        for _ in range(ROUNDS):
            for name, fn in (("enqueue", enqueue), ("raw", raw)):
                t0 = time.perf_counter()
                for _ in range(block):
                    fn()
                spent[name] += time.perf_counter() - t0
    finally:
        ob.close()
        conn.close()
    done = block * ROUNDS
    return done / spent["enqueue"], done / spent["raw"], len(envelope)


def bench_drain(workdir: Path, backlog: int) -> float:
    """Fill a backlog, then time a real sync daemon draining it to the simulator."""
    sim = simproc.BureauSim(workdir / f"bureau-{backlog}", latency_ms=LATENCY_MS)
    sim.start()
    try:
        data = workdir / f"kiosk-{backlog}"
        cfg = sim.kiosk_config(data, batch_size=BATCH)
        ob = Outbox(data, sim.kiosk_id, BureauSealer.from_pem_file(sim.files["hpke_public_pem"]))
        payload = form_payload()
        conn = ob._conn()
        # Fill fast: durability of the fill is not what is measured.
        conn.execute("PRAGMA synchronous = OFF")
        for _ in range(backlog):
            ob.enqueue(KIND, payload)
        conn.execute("PRAGMA synchronous = FULL")
        ob.close()
        proc = simproc.start_daemon(cfg, workdir / f"daemon-{backlog}.log")
        try:
            # Time from the daemon's READY (socket answering), not from process start: the
            # interpreter's start-up is not part of the drain rate.
            socket_path = Path(tomllib.loads(cfg.read_text())["sync"]["socket_path"])
            while not SyncClient(socket_path).status(timeout=0.2).daemon_running:
                if proc.poll() is not None:
                    raise RuntimeError(f"sync daemon exited {proc.returncode}")
                time.sleep(0.005)
            t0 = time.perf_counter()
            q = simproc.queue_counts(data)
            remaining = q["pending"] + q["in_flight"]
            while True:
                q = simproc.queue_counts(data)
                if q["pending"] + q["in_flight"] == 0:
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"sync daemon exited {proc.returncode}")
                time.sleep(0.02)
            elapsed = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(10)
        stored = sum(1 for r in sim.stored() if r[2] == "accepted")
        if stored < backlog:
            raise RuntimeError(f"bureau stored {stored} of {backlog}")
        return remaining / elapsed
    finally:
        sim.stop()


def run() -> dict[str, float]:
    """All four figures (takes about a minute and a half on 2 cores)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    with durable_dir("bench-sync-") as work:
        sealer = BureauSealer(X25519PrivateKey.generate().public_key())
        enqueue, raw, size = bench_enqueue_vs_raw(work, sealer)
        print(f"bench sync: envelope_bytes={size} dir={work}", file=sys.stderr)
        drain = bench_drain(work, 1000)
        deep = bench_drain(work, 10000)
    return {"sync.enqueue_per_s": round(enqueue, 1), "sync.raw_insert_per_s": round(raw, 1),
            "sync.envelope_bytes": float(size),
            "sync.drain_per_s": round(drain, 1), "sync.drain_per_s_deep": round(deep, 1)}


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
