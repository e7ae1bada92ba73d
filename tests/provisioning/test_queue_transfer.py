"""`kiosk queue export DIR` / `kiosk queue import DIR` for an SD card replacement (issue 17 #5):
the unsent queue of one data partition, still sealed, reaches the bureau exactly once from
another; a damaged export adds nothing; importing twice adds nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kiosk.sync import queue_transfer as qt
from kiosk.sync.outbox import Outbox
from kiosk.sync.seal import BureauSealer
from tests.provisioning.conftest import KIOSK_ID, wait_for
from tests.provisioning.helpers import kiosk, provisioned
from tests.sync import helpers as sync_helpers


def rows(data: Path) -> list[tuple[str, str, str, bytes]]:
    db = sqlite3.connect(data / "outbox.db")
    try:
        return db.execute("SELECT reference, idempotency_key, state, envelope FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()


def old_card(data: Path, public_pem: Path) -> tuple[list[tuple[str, str]], int]:
    """Two submissions waiting, and a later one the bureau acknowledged (its number is gone from
    the rows, kept only in the day's sequence); returns the waiting (reference, key) and that number."""
    with Outbox(data, KIOSK_ID, BureauSealer.from_pem_file(public_pem), min_free_mb=1) as ob:
        waiting = [ob.enqueue("card_loss_report", sync_helpers.loss_report()),
                   ob.enqueue("pension_certification",
                              sync_helpers.certification([sync_helpers.jpeg_bytes(i) for i in range(4)]))]
        sent = ob.enqueue("card_loss_report", sync_helpers.loss_report())
        claimed = {item.reference: item.id for item in ob.claim_batch(3)}
        ob.ack([claimed.pop(sent.reference)])
        ob.release(list(claimed.values()))
        assert not ob.holds(sent.reference) and ob.pending_count() == 2
    return [(r.reference, r.idempotency_key) for r in waiting], int(sent.reference[-8:-2])


def test_a_queue_moved_to_a_new_card_reaches_the_bureau_once(bureau, daemon, tmp_path):
    old, new, stick = tmp_path / "old", tmp_path / "new", tmp_path / "stick"
    waiting, acked_number = old_card(old, Path(bureau.files["hpke_public_pem"]))
    old_env = {"KIOSK_CONFIG": "/dev/null", "KIOSK_DATA_DIR": str(old), "KIOSK_ID": KIOSK_ID}
    stick.mkdir()
    res = kiosk("queue", "export", str(stick), env=old_env)
    assert res.returncode == 0 and res.stdout.startswith("2 unsent submission(s) of KIOSK-0042"), res.stderr
    export = qt.export_dir(stick, KIOSK_ID)
    check = subprocess.run(["sha256sum", "-c", qt.CHECKSUM], cwd=export, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    # still sealed: the very envelopes of the old queue, no name or ID number in the clear
    on_stick = b"".join(p.read_bytes() for p in export.rglob("*") if p.is_file())
    assert sync_helpers.NAME.encode() not in on_stick and sync_helpers.ID_NUMBER.encode() not in on_stick
    assert {(r[0], r[1], r[3]) for r in rows(old)} == {
        (ref, key, (export / "envelopes" / f"{ref}.sealed").read_bytes()) for ref, key in waiting}
    assert len(rows(old)) == 2  # export leaves the old queue as it was

    # the new card: provisioned again (a new key, the same kiosk id), then the queue imported
    provisioned(new, tmp_path / "bundle", bureau.state, KIOSK_ID, bureau.url)
    new_env = {"KIOSK_CONFIG": "/dev/null", "KIOSK_DATA_DIR": str(new)}
    _damaged_exports_add_nothing(export, tmp_path, new_env, new)
    res = kiosk("queue", "import", str(stick), env=new_env)
    assert res.returncode == 0 and res.stdout.startswith("2 of 2 submission(s) added"), res.stderr
    assert [(r[0], r[1], r[2]) for r in rows(new)] == [(ref, key, "pending") for ref, key in waiting]
    res = kiosk("queue", "import", str(stick), env=new_env)
    assert res.returncode == 0 and "imported before: nothing added" in res.stdout
    assert len(rows(new)) == 2

    daemon(new)
    wait_for(lambda: not rows(new), what="the bureau's acknowledgements")
    stored = {r[0]: r for r in bureau.stored()}
    for ref, key in waiting:
        assert stored[key][1:] == (ref, "accepted", 1)  # received once, stored once
    # once more after the acknowledgements: still nothing added, nothing sent again
    assert kiosk("queue", "import", str(stick), env=new_env).returncode == 0 and not rows(new)
    assert all({r[0]: r for r in bureau.stored()}[key][3] == 1 for _, key in waiting)
    # the new card never gives a citizen a number the old card gave, acknowledged ones included
    with Outbox(new, KIOSK_ID, BureauSealer.from_pem_file(Path(bureau.files["hpke_public_pem"])),
                min_free_mb=1) as ob:
        fresh = ob.enqueue("card_loss_report", sync_helpers.loss_report())
    numbers = [int(ref[-8:-2]) for ref, _ in waiting]
    assert acked_number > max(numbers)  # known to the new card only through the export
    assert int(fresh.reference[-8:-2]) > max([*numbers, acked_number])


def _damaged_exports_add_nothing(export: Path, tmp_path: Path, env: dict[str, str], new: Path) -> None:
    def broken(name: str) -> Path:
        copy = qt.export_dir(tmp_path / name, KIOSK_ID)
        shutil.copytree(export, copy)
        return copy

    cut = broken("cut-envelope")  # the last one: the rows before it were added, then rolled back
    last = sorted((cut / "envelopes").iterdir())[-1]
    last.write_bytes(last.read_bytes()[:-100])
    bad_manifest = broken("bad-manifest")
    body = (bad_manifest / qt.MANIFEST).read_bytes()
    (bad_manifest / qt.MANIFEST).write_bytes(body[: len(body) // 2])
    other = broken("other-kiosk")
    manifest = json.loads((other / qt.MANIFEST).read_bytes())
    manifest["kiosk_id"] = "KIOSK-0007"
    body = json.dumps(manifest).encode()
    (other / qt.MANIFEST).write_bytes(body)
    (other / qt.CHECKSUM).write_text(f"{hashlib.sha256(body).hexdigest()}  {qt.MANIFEST}\n")
    for copy, words in ((cut, "does not match the manifest (damaged or cut short)"),
                        (bad_manifest, "does not match manifest.sha256"),
                        (other, "exported by kiosk 'KIOSK-0007', this kiosk is 'KIOSK-0042'")):
        res = kiosk("queue", "import", str(copy.parent), env=env)
        assert res.returncode == 1, res.stdout + res.stderr
        assert res.stderr.startswith("kiosk queue import: refused, nothing imported: ") and words in res.stderr
        assert not (new / "outbox.db").exists() or not rows(new)


def test_an_empty_queue_exports_and_imports_nothing(tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    done = qt.export(tmp_path / "old", KIOSK_ID, stick)
    assert (done.count, done.dead) == (0, 0) and not (tmp_path / "old" / "outbox.db").exists()
    got = qt.import_(tmp_path / "new", KIOSK_ID, stick)
    assert (got.count, got.added, got.export_seen) == (0, 0, False)
    assert qt.import_(tmp_path / "new", KIOSK_ID, stick).export_seen
    # one stick, several kiosks: each finds its own export and never replaces another's
    qt.export(tmp_path / "old", "KIOSK-0007", stick)
    qt.export(tmp_path / "old", KIOSK_ID, stick)
    assert sorted(p.name for p in stick.iterdir()) == ["kiosk-queue-KIOSK-0007", "kiosk-queue-KIOSK-0042"]
    shutil.rmtree(qt.export_dir(stick, KIOSK_ID))
    with pytest.raises(qt.TransferRefused, match=r"no queue export of KIOSK-0042 .*; it holds kiosk-queue-KIOSK-0007"):
        qt.import_(tmp_path / "new", KIOSK_ID, stick)
