"""The outbox on plain SQLite: one-transaction enqueue, crash recovery, full disk, corrupt file,
clock trouble, and no plaintext personal data in the file."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk.sync import reference
from kiosk.sync.outbox import Outbox, StorageFull
from kiosk.sync.seal import BureauSealer, canonical_json, rfc3339
from tests import openapi_util
from tests.sync.helpers import CARD, ID_NUMBER, NAME, certification, decode, jpeg_bytes, loss_report, open_envelope

ROOT = Path(__file__).resolve().parents[2]


def seq(ref: str) -> int:
    return int(ref.split("-")[2])


def next_seq(ref: str) -> int:
    """The sequence number minted after ref (numbers whose check would be '*' are skipped)."""
    code, day, n, _ = ref.split("-")
    n = int(n) + 1
    while reference.format_reference(code, datetime.strptime(day, "%Y%m%d").date(), n) is None:
        n += 1
    return n


class Clock:
    def __init__(self) -> None:
        self.mono, self.wall = 1000.0, 1_740_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall


@pytest.fixture
def key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(tmp_path: Path, key: X25519PrivateKey, clock: Clock | None = None, **kw) -> Outbox:
    clock = clock or Clock()
    kw.setdefault("boot_id", "boot-1")
    kw.setdefault("clock_synced", lambda: True)
    return Outbox(tmp_path, "KIOSK-0001", BureauSealer(key.public_key()),
                  monotonic=clock.monotonic, wall=clock.time, **kw)


def test_enqueue_seals_a_valid_envelope_and_mints_a_checked_reference(tmp_path, key):
    with make(tmp_path, key) as ob:
        receipt = ob.enqueue("card_loss_report", loss_report())
        [item] = ob.claim_batch(10)
    assert reference.is_valid(receipt.reference)
    day = datetime.fromtimestamp(Clock().wall).strftime("%Y%m%d")
    assert receipt.reference.startswith(f"KIOSK0001-{day}-000001-")
    env = decode(item.envelope)
    openapi_util.validate("SealedEnvelope", env)
    assert env["metadata"]["reference"] == receipt.reference
    assert env["metadata"]["idempotency_key"] == receipt.idempotency_key
    payload = json.loads(open_envelope(key, env))
    openapi_util.validate("SubmissionPayload", payload)
    assert payload["reference"] == receipt.reference and payload["citizen"]["name"] == NAME
    assert env["metadata"]["size"] == len(open_envelope(key, env))
    # The envelope is assembled from parts: it must still be exactly its canonical JSON, and the
    # plaintext head spliced by hand exactly what json.dumps would write.
    assert item.envelope == canonical_json(env)
    head = json.dumps({"format": 1, "kind": "card_loss_report", "reference": receipt.reference},
                      separators=(",", ":")).encode()[:-1]
    assert open_envelope(key, env).startswith(head + b",")
    assert rfc3339(1_740_000_000.25) == "2025-02-19T21:20:00.250000Z"


def test_enqueue_is_one_transaction(tmp_path, key):
    """GIVEN a sealer that fails on the second submission WHEN it fails THEN neither the row
    nor the sequence number it took is kept."""
    class Flaky(BureauSealer):
        calls = 0

        def seal(self, payload, meta):
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise RuntimeError("power cut between mint and insert")
            return super().seal(payload, meta)

    clock = Clock()
    ob = Outbox(tmp_path, "KIOSK-0001", Flaky(key.public_key()), boot_id="b",
                monotonic=clock.monotonic, wall=clock.time)
    first = ob.enqueue("card_loss_report", loss_report())
    with pytest.raises(RuntimeError):
        ob.enqueue("card_loss_report", loss_report())
    third = ob.enqueue("card_loss_report", loss_report())
    assert ob.pending_count() == 2
    assert seq(third.reference) == next_seq(first.reference)
    ob.close()


def test_sequence_survives_reopen_and_clock_going_back(tmp_path, key, clock):
    ob = make(tmp_path, key, clock)
    a = ob.enqueue("card_loss_report", loss_report())
    clock.wall += 86400
    b = ob.enqueue("card_loss_report", loss_report())
    ob.close()
    clock.wall -= 86400  # clock jumped back to yesterday after a restart
    ob = make(tmp_path, key, clock)
    c = ob.enqueue("card_loss_report", loss_report())
    assert len({a.reference, b.reference, c.reference}) == 3
    assert c.reference.split("-")[1] == a.reference.split("-")[1]
    assert seq(c.reference) == next_seq(a.reference)
    assert len({a.idempotency_key, b.idempotency_key, c.idempotency_key}) == 3
    ob.close()


ACK_THEN_DIE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from kiosk.sync.outbox import Outbox
    from kiosk.sync.seal import BureauSealer
    ob = Outbox(Path(sys.argv[1]), "KIOSK-0001", BureauSealer.from_pem_file(sys.argv[2]))
    refs = [ob.enqueue("card_loss_report", {"citizen": {}, "data": {}, "pictures": []}).reference
            for _ in range(int(sys.argv[3]))]
    ob.ack([i.id for i in ob.claim_batch(len(refs) - 1)])  # all but the newest reach the bureau
    print(" ".join(refs), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no clean shutdown
""")


def test_sequence_is_never_reused_after_acks_and_a_crash(tmp_path, key):
    """GIVEN references minted, all but the newest acknowledged (their rows deleted), then the
    process killed; WHEN the queue is emptied and the file reopened; THEN the next reference
    continues after every number ever minted that day."""
    pem = tmp_path / "pub.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    data = tmp_path / "data"
    out = subprocess.run([sys.executable, "-c", ACK_THEN_DIE, str(data), str(pem), "6"], cwd=ROOT,
                         stdout=subprocess.PIPE, text=True, timeout=60, check=False)
    assert out.returncode == -signal.SIGKILL
    minted = out.stdout.split()
    assert len(minted) == 6
    with Outbox(data, "KIOSK-0001", BureauSealer(key.public_key())) as ob:
        assert ob.pending_count() == 1
        ob.ack([i.id for i in ob.claim_batch(10)])  # the queue is empty now
    with Outbox(data, "KIOSK-0001", BureauSealer(key.public_key())) as ob:
        nxt = ob.enqueue("card_loss_report", loss_report()).reference
    same_day = [r for r in minted if r.split("-")[1] == nxt.split("-")[1]]
    assert same_day and seq(nxt) == next_seq(max(same_day, key=seq))


def test_a_number_another_writer_minted_and_the_bureau_took_is_not_minted_again(tmp_path, key,
                                                                               clock):
    """GIVEN two writers on one file (the UI and a second process or thread), each having minted
    before; WHEN one mints a number and the bureau acknowledges it (its row is deleted) THEN the
    other, whose last number is remembered in memory, still continues after it, on a day it
    last minted and across threads of one process too."""
    ui, other = make(tmp_path, key, clock), make(tmp_path, key, clock)
    try:
        first = ui.enqueue("card_loss_report", loss_report())
        theirs = other.enqueue("card_loss_report", loss_report())
        other.ack([i.id for i in other.claim_batch(10)])  # both rows leave the queue
        assert other.pending_count() == 0
        mine = ui.enqueue("card_loss_report", loss_report())
        assert seq(theirs.reference) == next_seq(first.reference)
        assert seq(mine.reference) == next_seq(theirs.reference)
        # The same Outbox from another thread: its own connection, the same rule.
        import threading
        got: list[str] = []
        t = threading.Thread(target=lambda: got.append(
            ui.enqueue("card_loss_report", loss_report()).reference))
        t.start()
        t.join()
        again = ui.enqueue("card_loss_report", loss_report())
        assert seq(got[0]) == next_seq(mine.reference)
        assert seq(again.reference) == next_seq(got[0])
    finally:
        ui.close()
        other.close()


def test_the_ui_opens_a_queue_it_knows_without_writing(tmp_path, key, clock):
    """GIVEN a queue with rows waiting and rows acknowledged WHEN the UI opens it again in the
    same boot THEN it changes nothing in the file (on a full disk a write would refuse the open),
    and the numbers already used stay used."""
    with make(tmp_path, key, clock) as ob:
        refs = [ob.enqueue("card_loss_report", loss_report()).reference for _ in range(4)]
        ob.ack([i.id for i in ob.claim_batch(2)])
    ui = make(tmp_path, key, clock, recover_in_flight=False)
    try:
        assert ui._conn().total_changes == 0
        assert ui.pending_count() == 2
        assert seq(ui.enqueue("card_loss_report", loss_report()).reference) == next_seq(refs[-1])
    finally:
        ui.close()


def test_idempotency_keys_are_distinct_version_4_uuids(tmp_path, key):
    import uuid

    from kiosk.sync.sequence import idempotency_key
    keys = [idempotency_key() for _ in range(2000)]
    assert len(set(keys)) == len(keys)
    for k in keys:
        parsed = uuid.UUID(k)
        assert str(parsed) == k and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_rows_queued_under_another_kiosk_id_still_block_their_numbers(tmp_path, key, clock):
    """A kiosk renamed while rows wait: the new name continues the day's count."""
    with make(tmp_path, key, clock) as ob:
        old = [ob.enqueue("card_loss_report", loss_report()) for _ in range(3)]
    renamed = Outbox(tmp_path, "KIOSK-0002", BureauSealer(key.public_key()), boot_id="boot-1",
                     monotonic=clock.monotonic, wall=clock.time, clock_synced=lambda: True)
    with renamed as ob:
        new = ob.enqueue("card_loss_report", loss_report())
    assert new.reference.startswith("KIOSK0002-")
    assert seq(new.reference) == next_seq(old[-1].reference)


def test_unsynchronised_clock_is_recorded_with_the_record(tmp_path, key):
    with make(tmp_path, key, clock_synced=lambda: False) as ob:
        receipt = ob.enqueue("card_loss_report", loss_report())
        [item] = ob.claim_batch(1)
    assert receipt.clock_synced is False
    assert decode(item.envelope)["metadata"]["clock_synchronised"] is False
    db = sqlite3.connect(tmp_path / "outbox.db")
    assert db.execute("SELECT clock_synced FROM outbox").fetchone() == (0,)


def test_ack_deletes_and_claim_uses_the_index(tmp_path, key):
    with make(tmp_path, key) as ob:
        for _ in range(5):
            ob.enqueue("card_loss_report", loss_report())
        batch = ob.claim_batch(3)
        assert ob.status().in_flight == 3
        ob.ack([i.id for i in batch])
        st = ob.status()
        assert (st.pending, st.in_flight, st.dead) == (2, 0, 0) and st.last_success_at
        plan = ob._conn().execute(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE state = 'pending' "
            "AND next_attempt_at <= 5 ORDER BY next_attempt_at LIMIT 50").fetchall()
    assert "outbox_due" in str(plan)
    db = sqlite3.connect(tmp_path / "outbox.db")
    assert db.execute("SELECT count(*) FROM outbox").fetchone() == (2,)


def test_claim_batch_keeps_requests_under_a_byte_budget(tmp_path, key):
    with make(tmp_path, key) as ob:
        pictures = [jpeg_bytes(i) for i in range(4)]
        for _ in range(5):
            ob.enqueue("pension_certification", certification(pictures))
        one = len(ob.claim_batch(1)[0].envelope)
        assert len(ob.claim_batch(10, max_bytes=int(one * 2.5))) == 2
        assert len(ob.claim_batch(10, max_bytes=10)) == 1  # never zero while rows are due


def test_fail_backs_off_on_monotonic_time_and_honours_retry_after(tmp_path, key, clock):
    with make(tmp_path, key, clock) as ob:
        ob.enqueue("card_loss_report", loss_report())
        [item] = ob.claim_batch(1)
        ob.fail([item.id], "http 429 throttled", retry_after=30)
        clock.wall -= 3600 * 24 * 365  # a wall-clock jump changes nothing
        assert ob.claim_batch(1) == []
        assert 29 < ob.next_due_in() <= 30
        clock.mono += 30.01
        [again] = ob.claim_batch(1)
        assert again.attempts == 2


def test_dead_letter_and_retry_dead(tmp_path, key):
    with make(tmp_path, key) as ob:
        ob.enqueue("card_loss_report", loss_report())
        [item] = ob.claim_batch(1)
        ob.fail([item.id], "citizen_not_found: no such citizen", retryable=False)
        assert ob.status().dead == 1 and ob.claim_batch(1) == []
        [dead] = ob.dead_letters()
        assert dead["last_error"].startswith("citizen_not_found")
        assert dead["kind"] == "card_loss_report"
        assert ob.retry_dead() == 1
        assert len(ob.claim_batch(1)) == 1


def test_new_boot_rebases_retry_times(tmp_path, key, clock):
    ob = make(tmp_path, key, clock)
    ob.enqueue("card_loss_report", loss_report())
    [item] = ob.claim_batch(1)
    ob.fail([item.id], "timeout", retry_after=3000)
    ob.close()
    clock.mono = 5.0  # monotonic restarts low after a reboot
    ob = make(tmp_path, key, clock, boot_id="boot-2")
    assert ob.boot == 2
    assert len(ob.claim_batch(1)) == 1
    ob.close()


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kiosk.sync.outbox import Outbox
    from kiosk.sync.seal import BureauSealer
    ob = Outbox(Path(sys.argv[1]), "KIOSK-0001", BureauSealer.from_pem_file(sys.argv[2]))
    items = ob.claim_batch(7)
    print(len(items), flush=True)
    time.sleep(60)
""")


def test_crash_recovery_returns_in_flight_rows_to_pending(tmp_path, key):
    pem = tmp_path / "pub.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    data = tmp_path / "data"
    with Outbox(data, "KIOSK-0001", BureauSealer(key.public_key())) as ob:
        for _ in range(10):
            ob.enqueue("card_loss_report", loss_report())
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(data), str(pem)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "7"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # The UI opening the file must not take rows from a (possibly live) daemon...
    with Outbox(data, "KIOSK-0001", BureauSealer(key.public_key()), recover_in_flight=False) as ui:
        assert ui.status().in_flight == 7
    # ...the daemon's own restart does.
    with Outbox(data, "KIOSK-0001", BureauSealer(key.public_key())) as ob:
        st = ob.status()
        assert (st.pending, st.in_flight) == (10, 0)
        assert len(ob.claim_batch(100)) == 10


def test_full_disk_raises_storage_full_and_keeps_nothing_half_written(tmp_path, key):
    big = certification([jpeg_bytes(i, 120) for i in range(4)])
    ob = make(tmp_path, key)
    conn = ob._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 40}")
    stored = []
    with pytest.raises(StorageFull):
        for _ in range(200):
            stored.append(ob.enqueue("pension_certification", big))
    assert 0 < len(stored) < 200
    conn.execute("PRAGMA max_page_count = 1000000")
    db = sqlite3.connect(tmp_path / "outbox.db")
    assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
    refs = [r[0] for r in db.execute("SELECT reference FROM outbox ORDER BY id")]
    assert refs == [r.reference for r in stored]
    # Room again: the next one continues the sequence without a gap.
    nxt = ob.enqueue("card_loss_report", loss_report())
    assert seq(nxt.reference) == next_seq(stored[-1].reference)
    ob.close()


def test_can_accept_says_no_before_the_citizen_starts(tmp_path, key):
    with make(tmp_path, key) as ob:
        assert ob.can_accept().ok
    with make(tmp_path, key, min_free_mb=10**9) as ob:
        cap = ob.can_accept()
        assert not cap.ok and cap.reason == "sync.storage.full"
    with make(tmp_path, key, max_db_mb=0.5) as ob:  # a queue cap nearly reached
        assert not ob.can_accept().ok


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_corrupt_file_is_quarantined_kept_and_replaced(tmp_path, key, damage):
    with make(tmp_path, key) as ob:
        for _ in range(30):
            ob.enqueue("card_loss_report", loss_report())
        ob._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = tmp_path / "outbox.db"
    raw = bytearray(path.read_bytes())
    if damage == "header":
        raw[:16] = b"garbage garbage!"
    else:
        page = 4096
        for p in range(1, len(raw) // page):
            raw[p * page + 8:p * page + 200] = os.urandom(192)
    path.write_bytes(bytes(raw))

    with make(tmp_path, key) as ob:
        [alert] = ob.alerts()
        assert alert.kind == "outbox_quarantined"
        # Every record still readable came back (tests/faults counts them per damage).
        salvaged = ob.quarantined.salvaged
        assert alert.detail.endswith(f"salvaged={salvaged}")
        assert ob.status().pending == salvaged
        if damage == "header":
            assert salvaged == 30
        receipt = ob.enqueue("card_loss_report", loss_report())
    kept = list((tmp_path / "quarantine").glob("outbox-*.db"))
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(raw)
    assert alert.detail.startswith(f"file={kept[0].name}")
    # Numbers minted before the loss are not minted again: today continues a gap further on.
    assert reference.QUARANTINE_GAP < seq(receipt.reference) <= reference.QUARANTINE_GAP + 32


def test_foreign_sqlite_file_is_not_adopted(tmp_path, key):
    other = sqlite3.connect(tmp_path / "outbox.db")
    other.execute("CREATE TABLE t(x)")
    other.commit()
    other.close()
    with make(tmp_path, key) as ob:
        assert [a.kind for a in ob.alerts()] == ["outbox_quarantined"]


def _needles(pictures: list[bytes]) -> dict[str, bytes]:
    b64 = base64.b64encode(pictures[0]).decode()
    return {
        "id number": ID_NUMBER.encode(),
        "name utf-8": NAME.encode("utf-8"),
        "name gb18030": NAME.encode("gb18030"),
        "name json-escaped": json.dumps(NAME).strip('"').encode(),
        "card number": CARD.encode(),
        "jpeg SOI+APP0": pictures[0][:12],  # FF D8 FF E0 .. JFIF
        "jpeg middle": pictures[1][len(pictures[1]) // 2:][:32],
        "jpeg base64": b64[100:140].encode(),
    }


def test_no_plaintext_personal_data_or_jpeg_bytes_in_the_file(tmp_path, key):
    pictures = [jpeg_bytes(i) for i in range(4)]
    assert pictures[0][:3] == b"\xff\xd8\xff"
    ob = make(tmp_path, key)
    ob.enqueue("pension_certification", certification(pictures))
    ob.enqueue("card_loss_report", loss_report())
    files = [p for p in tmp_path.iterdir() if p.name.startswith("outbox.db")]
    assert any(p.name.endswith("-wal") for p in files)  # still in the WAL: grep that too
    for phase in ("wal", "checkpointed"):
        blob = b"".join(p.read_bytes() for p in tmp_path.iterdir()
                        if p.name.startswith("outbox.db"))
        for what, needle in _needles(pictures).items():
            assert needle not in blob, f"{what} found in the database files ({phase})"
        ob._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # ...and it is all there, sealed: the bureau's key opens it.
    items = ob.claim_batch(10)
    opened = json.loads(open_envelope(key, decode(items[0].envelope)))
    assert base64.b64decode(opened["pictures"][0]["jpeg_b64"]) == pictures[0]
    ob.close()
