"""The must-show crash test: 3,000 submissions drain against a faulty bureau while the sync daemon
is SIGKILLed at random moments (50+ times) and the bureau restarts; afterwards the bureau holds
every reference exactly once: nothing lost, nothing accepted twice."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from kiosk.sync.outbox import Outbox
from kiosk.sync.seal import BureauSealer
from tests.sync.helpers import loss_report
from tests.sync.simproc import BureauSim, queue_counts, start_daemon

pytestmark = pytest.mark.slow

SUBMISSIONS = int(os.environ.get("SYNC_CRASH_SUBMISSIONS", "2000"))
KILLS = int(os.environ.get("SYNC_CRASH_KILLS", "30"))
BUREAU_RESTARTS = 4
FAULTS = {"latency_ms": 15, "error_rate": 0.08, "drop_rate": 0.05, "throttle_rate": 0.05,
          "retry_after_s": 1, "seed": 7}


def test_sigkill_storm_loses_nothing_and_duplicates_nothing(tmp_path):
    rng = random.Random(int(os.environ.get("SYNC_CRASH_SEED", "20250301")))
    sim = BureauSim(tmp_path / "bureau", **FAULTS).start()
    data = tmp_path / "kiosk"
    # Small batches and real latency keep the drain going long enough to be killed 50 times.
    cfg = sim.kiosk_config(data, batch_size=8, backoff_base_s=0.05, backoff_max_s=1.0,
                           idle_poll_s=0.2, heartbeat_s=5.0)
    try:
        sealer = BureauSealer.from_pem_file(sim.files["hpke_public_pem"])
        with Outbox(data, sim.kiosk_id, sealer) as ob:
            receipts = [ob.enqueue("card_loss_report", loss_report()) for _ in range(SUBMISSIONS)]
        issued = {r.reference: r.idempotency_key for r in receipts}
        assert len(issued) == SUBMISSIONS

        kills, restart_at = 0, set(rng.sample(range(5, KILLS), BUREAU_RESTARTS))
        log = tmp_path / "daemon.log"
        started = time.monotonic()
        while kills < KILLS:
            proc = start_daemon(cfg, log)
            time.sleep(rng.uniform(0.15, 1.2))  # during start-up, mid-batch, mid-commit...
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            if kills in restart_at:
                sim.restart(signal.SIGKILL if rng.random() < 0.5 else signal.SIGTERM)
        mid = queue_counts(data)

        # Let a last daemon finish the job (faults still on), then stop it the polite way.
        proc = start_daemon(cfg, log)
        deadline = time.monotonic() + 150
        while True:
            q = queue_counts(data)
            if q["pending"] + q["in_flight"] == 0:
                break
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"not drained: {q}"
            time.sleep(0.2)
        proc.terminate()
        assert proc.wait(15) == 0
        elapsed = time.monotonic() - started
        stats = sim.stats()
        sim.stop()

        rows = sim.stored()
        by_ref: dict[str, int] = {}
        for key, ref, outcome, _times in rows:
            by_ref[ref] = by_ref.get(ref, 0) + 1
            assert outcome == "accepted", (ref, outcome)
            assert issued.get(ref) == key
        deliveries = sum(r[3] for r in rows)
        twice = [ref for ref, n in by_ref.items() if n > 1]
        lost = set(issued) - set(by_ref)
        faults = {k: v for k, v in stats.items() if k.startswith("fault")}
        print(f"\ncrash test: submissions={SUBMISSIONS} sigkills={kills} "
              f"bureau_restarts={sim.restarts} pending_after_kills={mid['pending']} "
              f"in_flight_after_kills={mid['in_flight']} stored={len(rows)} "
              f"distinct_references={len(by_ref)} lost={len(lost)} stored_twice={len(twice)} "
              f"deliveries={deliveries} redeliveries={deliveries - len(rows)} "
              f"dead={q['dead']} faults_last_bureau_run={faults} "
              f"elapsed_s={elapsed:.0f}")
        assert kills >= KILLS and sim.restarts >= BUREAU_RESTARTS
        assert not lost and not twice and len(rows) == SUBMISSIONS
        assert q == {"pending": 0, "in_flight": 0, "dead": 0}
    finally:
        sim.stop()
