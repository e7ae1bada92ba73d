"""Finding 7: a database locked by another process for longer than the busy timeout is waited
for (bounded), never quarantined; ten quarantines do not exhaust the reference sequence."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kiosk.sync import storage
from kiosk.sync.outbox import Outbox
from kiosk.sync.seal import BureauSealer
from tests.faults import workers
from tests.faults.campaign import Ledger, drain_to_empty, kill, tally, write_config
from tests.sync.helpers import loss_report
from tests.sync.simproc import BureauSim

BUSY_MS = 300  # the busy timeout in these trials (the product's is 10 s)


def _queue(data: Path, sim: BureauSim, n: int, ledger: Ledger) -> None:
    sealer = BureauSealer.from_pem_file(sim.files["hpke_public_pem"])
    with Outbox(data, sim.kiosk_id, sealer) as ob:
        for _ in range(n):
            ledger.take(("offer",))
            r = ob.enqueue("card_loss_report", workers.submission())
            ledger.take(("ack", r.reference, r.idempotency_key))


def _hold(forkserver, db: Path, seconds: float):
    ours, theirs = forkserver.Pipe(duplex=False)
    proc = forkserver.Process(target=workers.hold_lock, args=(str(db), seconds, theirs),
                              daemon=True)
    proc.start()
    theirs.close()
    assert ours.poll(30) and ours.recv() == "held"
    return proc, ours


def test_locked_database_is_waited_for_and_its_queue_drained(tmp_path, forkserver, fault_table):
    """GIVEN a healthy queue of 5 submissions and another process holding the file exclusively
    for five busy timeouts WHEN kiosk sync run starts THEN it waits for the lock, quarantines
    nothing, and the bureau gets all 5."""
    sim = BureauSim(tmp_path / "bureau").start()
    data = tmp_path / "kiosk"
    ledger = Ledger()
    holder = None
    try:
        cfg = write_config(sim, data, tmp_path / "kiosk.toml", backoff_base_s=0.05,
                           backoff_max_s=1.0, idle_poll_s=0.05)
        _queue(data, sim, 5, ledger)
        holder, _ = _hold(forkserver, data / "outbox.db", 5 * BUSY_MS / 1000)
        log = tmp_path / "daemon.log"
        proc = forkserver.Process(target=workers.sync_run_with, daemon=True,
                                  args=(str(cfg), str(log), BUSY_MS, 30.0))
        proc.start()
        holder.join(30)
        deadline = time.monotonic() + 60
        while len(sim.stored()) < 5 and proc.exitcode is None and time.monotonic() < deadline:
            time.sleep(0.1)
        kill(proc)
        q = drain_to_empty(forkserver, cfg, data, log)
        counts = tally(ledger, sim.stored())
        quarantined = storage.quarantined_count(data / "outbox.db")
        fault_table.add_queue("database locked > busy timeout", trials=1, **counts,
                              detail=f"lock held {5 * BUSY_MS} ms, busy timeout {BUSY_MS} ms; "
                                     f"files quarantined: {quarantined}")
        print(f"\nlocked: {counts} quarantined={quarantined} queue={q}")
        assert quarantined == 0
        assert counts["lost"] == 0 and counts["duplicated"] == 0 and counts["at_bureau"] == 5
        assert q["dead"] == 0 and {o for _k, _r, o, _t in sim.stored()} == {"accepted"}
    finally:
        kill(holder)
        sim.stop()


def test_lock_outlasting_the_wait_is_a_clear_error_and_keeps_the_file(tmp_path, forkserver,
                                                                      monkeypatch):
    """GIVEN a queue of 3 and a lock held longer than the whole bounded wait WHEN the outbox opens
    THEN it raises StorageBusy naming the lock, and the file and its 3 rows stay where they are."""
    sim = BureauSim(tmp_path / "bureau").start()
    data = tmp_path / "kiosk"
    holder = None
    try:
        ledger = Ledger()
        _queue(data, sim, 3, ledger)
        monkeypatch.setattr(storage, "BUSY_TIMEOUT_MS", BUSY_MS)
        monkeypatch.setattr(storage, "OPEN_WAIT_S", 1.0, raising=False)
        holder, _ = _hold(forkserver, data / "outbox.db", 8.0)
        outcome = "opened"
        try:
            Outbox(data, sim.kiosk_id, BureauSealer.from_pem_file(sim.files["hpke_public_pem"])
                   ).close()
        except storage.StorageError as exc:
            outcome = f"{type(exc).__name__}: {exc} (reason {exc.reason})"
        print(f"\nopen under a lock outlasting the wait: {outcome}; "
              f"quarantined={storage.quarantined_count(data / 'outbox.db')}")
        assert outcome.startswith("StorageBusy"), outcome
        assert storage.quarantined_count(data / "outbox.db") == 0
    finally:
        kill(holder)
        sim.stop()
    with Outbox(data, "KIOSK-0001", BureauSealer.from_pem_file(sim.files["hpke_public_pem"])) as ob:
        assert ob.pending_count() == 3
        assert all(ob.holds(ref) for ref in ledger.acked)


@pytest.mark.parametrize("quarantines", [10, 25])
def test_many_quarantines_leave_the_sequence_usable(tmp_path, forkserver, quarantines):
    """GIVEN a file that went bad again and again, each time quarantined by a kiosk process that
    then took one submission WHEN a citizen submits THEN can_accept and enqueue agree: the
    submission is taken with a reference never used before."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = tmp_path / "bureau.pem"
    pem.write_bytes(X25519PrivateKey.generate().public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    data = tmp_path / "kiosk"
    ledger = Ledger()
    for _ in range(quarantines):
        ours, theirs = forkserver.Pipe(duplex=False)
        proc = forkserver.Process(target=workers.enqueue_loop, daemon=True,
                                  args=(str(data), "KIOSK-0001", str(pem), theirs, 1, 0, 0))
        proc.start()
        theirs.close()
        proc.join(30)
        ledger.pump(ours)
        (data / "outbox.db").write_bytes(os.urandom(8192))  # not a database any more
        for suffix in ("-wal", "-shm"):
            Path(str(data / "outbox.db") + suffix).unlink(missing_ok=True)
    sealer = BureauSealer.from_pem_file(pem)
    with Outbox(data, "KIOSK-0001", sealer) as ob:
        cap = ob.can_accept()
        try:
            ref = ob.enqueue("card_loss_report", loss_report()).reference
        except Exception as exc:
            ref = f"{type(exc).__name__}: {exc}"
        print(f"\nafter {storage.quarantined_count(data / 'outbox.db')} quarantines: "
              f"can_accept={cap.ok} enqueue -> {ref}")
        assert not ledger.errors, ledger.errors
        assert len(ledger.acked) == quarantines
        assert storage.quarantined_count(data / "outbox.db") == quarantines
        assert cap.ok
        assert ref not in ledger.acked and ref.startswith("KIOSK0001-"), ref
