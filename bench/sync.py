"""Sync benchmarks for `make bench`: durable sealed enqueue vs raw SQLite, and drain rates.

sync.enqueue_per_s       Outbox.enqueue of form-sized records (seal + mint + one FULL commit each)
sync.raw_insert_per_s    plain INSERTs of blobs of the same size, same pragmas, same run
sync.drain_per_s         sync daemon draining a backlog of 1,000 to the local bureau simulator
                         with 20 ms added latency per request
sync.drain_per_s_deep    the same with a backlog of 10,000 (must not fall as the backlog grows)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kiosk.sync import storage  # noqa: E402
from kiosk.sync.outbox import Outbox  # noqa: E402
from kiosk.sync.ipc import SyncClient  # noqa: E402
from kiosk.sync.seal import BureauSealer  # noqa: E402
from tests.sync import simproc  # noqa: E402

ENQUEUE_N = 2000
BATCH = 100
LATENCY_MS = 20


KIND = "card_application"


def form_payload() -> dict[str, Any]:
    """A form-sized record: a card application with a small photo, about 2 KB of plaintext."""
    from tests.sync.helpers import card_application, jpeg_bytes
    return card_application(jpeg_bytes(0, 32))


def bench_enqueue(workdir: Path, sealer: BureauSealer, n: int = ENQUEUE_N) -> tuple[float, int]:
    ob = Outbox(workdir / "enq", "KIOSK-0001", sealer, boot_id="bench")
    payload = form_payload()
    ob.enqueue(KIND, payload)  # warm up (schema, first pages)
    t0 = time.perf_counter()
    for _ in range(n):
        ob.enqueue(KIND, payload)
    rate = n / (time.perf_counter() - t0)
    size = len(ob.claim_batch(1)[0].envelope)
    ob.close()
    return rate, size


def bench_raw_insert(workdir: Path, size: int, n: int = ENQUEUE_N) -> float:
    path = workdir / "raw" / "raw.db"
    path.parent.mkdir(parents=True)
    conn = storage.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, state TEXT, "
                 "due REAL, blob BLOB)")
    conn.execute("CREATE INDEX t_due ON t(state, due)")
    blob = os.urandom(size)
    t0 = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t(k, state, due, blob) VALUES (?, 'pending', ?, ?)",
                     (f"key-{i:08d}-padpadpad-0000", float(i), blob))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - t0)
    conn.close()
    return rate


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

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        sealer = BureauSealer(X25519PrivateKey.generate().public_key())
        enqueue, size = bench_enqueue(work, sealer)
        raw = bench_raw_insert(work, size)
        print(f"bench sync: envelope_bytes={size}", file=sys.stderr)
        drain = bench_drain(work, 1000)
        deep = bench_drain(work, 10000)
    return {"sync.enqueue_per_s": round(enqueue, 1), "sync.raw_insert_per_s": round(raw, 1),
            "sync.drain_per_s": round(drain, 1), "sync.drain_per_s_deep": round(deep, 1)}


if __name__ == "__main__":
    import json
    print(json.dumps(run(), indent=2))
