"""Finding 7, last part: a quarantined file is not the end of its submissions. Every sealed record
still readable in it comes back into the live queue and reaches the bureau (once: same keys)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from kiosk.sync import storage
from kiosk.sync.outbox import Outbox
from kiosk.sync.seal import BureauSealer
from tests.faults import workers
from tests.faults.campaign import Ledger, drain_to_empty, tally, write_config
from tests.sync.simproc import BureauSim


def _damage(path: Path, how: str) -> str:
    raw = bytearray(path.read_bytes())
    if how == "header":
        raw[:100] = bytes(range(100))  # magic, page size, counters: a torn first sector
        path.write_bytes(bytes(raw))
        return "first 100 bytes overwritten"
    db = sqlite3.connect(path)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'outbox'").fetchone()[0]
    index = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'outbox_due'").fetchone()[0]
    page = db.execute("PRAGMA page_size").fetchone()[0]
    assert raw[(root - 1) * page] == 0x05, "the outbox table should span several pages"
    db.close()
    for p in (root, index):  # the b-tree above the records: torn interior and index pages
        raw[(p - 1) * page:p * page] = bytes(page)
    path.write_bytes(bytes(raw))
    return f"table root page {root} and index page {index} zeroed"


def test_quarantined_file_is_salvaged_and_its_submissions_reach_the_bureau(tmp_path, forkserver,
                                                                           fault_table):
    """GIVEN queues of 40 (small forms and applications with photos that overflow their page)
    whose file is then damaged (torn header; zeroed b-tree interior and index pages) WHEN the
    daemon starts THEN the file is quarantined, every record salvaged, and the bureau holds each
    acknowledged submission once."""
    sim = BureauSim(tmp_path / "bureau").start()
    ledger = Ledger()
    rng = random.Random(13)
    salvaged, notes = 0, []
    try:
        sealer = BureauSealer.from_pem_file(sim.files["hpke_public_pem"])
        data = tmp_path / "kiosk"
        cfg = write_config(sim, data, tmp_path / "kiosk.toml", backoff_base_s=0.05,
                           backoff_max_s=1.0, idle_poll_s=0.05)
        for trial, how in enumerate(("header", "interior")):
            with Outbox(data, sim.kiosk_id, sealer) as ob:
                for i in range(40):
                    photo = 96 if i % 5 == 0 else 0
                    ledger.take(("offer",))
                    r = ob.enqueue("card_application" if photo else "card_loss_report",
                                   workers.submission(photo, rng))
                    ledger.take(("ack", r.reference, r.idempotency_key))
                ob._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            notes.append(_damage(data / "outbox.db", how))
            q = drain_to_empty(forkserver, cfg, data, tmp_path / "daemon.log")
            assert storage.quarantined_count(data / "outbox.db") == trial + 1
            with Outbox(data, sim.kiosk_id, sealer) as ob:
                alerts = [a for a in ob.alerts() if a.kind == "outbox_quarantined"]
            detail = alerts[-1].detail
            salvaged += int(detail.rsplit("salvaged=", 1)[1]) if "salvaged=" in detail else 0
            assert q["dead"] == 0
        counts = tally(ledger, sim.stored())
        fault_table.add_queue("corrupt file (quarantine+salvage)", trials=2, salvaged=salvaged,
                              detail="; ".join(notes), **counts)
        print(f"\ncorrupt: {counts} salvaged={salvaged} ({'; '.join(notes)})")
        assert counts["lost"] == 0 and counts["duplicated"] == 0, counts
        assert salvaged == 80
    finally:
        sim.stop()
