"""The maintenance menu's USB stick page (issue 17 #5): the service procedures a technician runs
from the menu, with a directory (or a small tmpfs, where this machine lets us mount one)
standing in for the stick. The work is the commands' own: a log export the menu made passes
`kiosk logs verify`; a queue saved from one data store and loaded into another loses nothing;
no stick, a full or read-only stick, no update and a refused update each say so in plain words.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk import cli
from kiosk.screens.maintenance import MaintenanceScreen
from kiosk.services import stick as stick_service
from kiosk.sync.outbox import Outbox
from kiosk.sync.seal import BureauSealer
from tests.conftest import ARTIFACTS
from tests.sync import helpers as sync_helpers
from tests.test_log_export import JOURNAL, certificate, fake_journalctl
from tests.ui.harness import make_harness

KIOSK_ID = "KIOSK-0001"
SHOTS = ARTIFACTS / "maintenance"


@pytest.fixture
def kit(tmp_path, monkeypatch):
    """The kiosk's key and certificate, a fake journal with an ID number in it, fake rauc."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_file, cert_file = tmp_path / "kiosk.key", tmp_path / "kiosk.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(certificate(key, KIOSK_ID))
    bin_dir = tmp_path / "bin"
    fake_journalctl(bin_dir, tmp_path / "journalctl.args", [json.dumps(r, ensure_ascii=False) for r in JOURNAL])
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return {"key": key_file, "cert": cert_file, "bin": bin_dir, "stick": tmp_path / "stick"}


def harness(tmp_path, kit, lang="zh_CN", data="data"):
    # devices.gpio = mock (the harness's): the tasks run in the UI's process, as in `make run`
    h = make_harness(tmp_path / data, lang=lang, **{"maintenance.stick_dir": str(kit["stick"]),
                                                     "sync.key_file": str(kit["key"]), "kiosk.id": KIOSK_ID})
    h.ui.show(MaintenanceScreen(h.ui, "gesture", page="system"))
    h.frame()
    h.tap_button("nav-stick")
    assert h.ui.screen.page_id == "stick"
    return h


def settle(h):
    h.settle()


def run(h, action, confirm=False):
    h.ui.text.rendered.clear()
    h.tap_button(f"act-{action}")
    if confirm:
        h.tap_button("confirm-yes")
    settle(h)
    assert any(b.name == "nav-exit" for b in h.ui.screen.buttons), "the menu lost its way out"
    return h.ui.screen.page


def said(h, key, **fields):
    """The plain sentence of `key` was drawn (its first line at least)."""
    words = h.ui.t(key, **fields)
    drawn = [t for t in h.ui.text.rendered if len(t) > 8 and t in words]
    assert drawn, f"{key!r} ({words!r}) not drawn; drawn: {sorted(h.ui.text.rendered)}"


def shot(h, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    h.frame()
    h.ui.screenshot(str(SHOTS / f"{h.ui.lang}-page-stick{name}.png"))


def queue_rows(data: Path):
    db = sqlite3.connect(data / "outbox.db")
    try:
        return db.execute("SELECT reference, idempotency_key, envelope FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()


def test_logs_and_queue_from_the_menu(tmp_path, kit):
    """GIVEN no stick THEN the page and a task say so plainly; GIVEN a stick THEN the logs the menu
    exports pass `kiosk logs verify` with no ID number in them, and the queue saved from this
    data store and loaded into a second one from its menu loses nothing and is added once."""
    h = harness(tmp_path, kit)
    try:
        assert h.ui.screen.page.note == "stick.insert"
        shot(h, "-none")
        assert run(h, "logs_export").note == "stick.result.no_stick"
        said(h, "stick.result.no_stick")

        kit["stick"].mkdir()
        h.clock.advance(1.1)
        h.frame()
        assert h.ui.screen.page.note == "stick.ready"
        page = run(h, "logs_export")
        assert page.note == "stick.result.logs_done", page
        said(h, "stick.result.logs_done", **page.note_fields)
        shot(h, "-logs-done")
        (folder,) = kit["stick"].glob("kiosk-logs-*")
        assert cli.main(["logs", "verify", str(folder), "--cert", str(kit["cert"])]) == 0
        text = "".join(p.read_text(encoding="utf-8") for p in folder.iterdir() if p.suffix != ".sig")
        assert "110105195803120029" not in text and "王秀英" not in text
        assert "stick_task" in h.ui.maintenance.audit.events()

        sealer = BureauSealer(X25519PrivateKey.generate().public_key())
        with Outbox(tmp_path / "data" / "data", KIOSK_ID, sealer, min_free_mb=1) as ob:
            for _ in range(2):
                ob.enqueue("card_loss_report", sync_helpers.loss_report())
        before = queue_rows(tmp_path / "data" / "data")
        page = run(h, "queue_export")
        assert (page.note, page.note_fields["n"]) == ("stick.result.queue_exported", 2), page
        said(h, "stick.result.queue_exported", **page.note_fields)
    finally:
        h.close()

    new = harness(tmp_path, kit, data="new")
    try:
        page = run(new, "queue_import", confirm=True)
        assert (page.note, page.note_fields) == ("stick.result.queue_imported", {"added": 2, "n": 2}), page
        assert queue_rows(tmp_path / "new" / "data") == before  # same references, keys, sealed envelopes
        assert run(new, "queue_import", confirm=True).note == "stick.result.queue_seen"
        assert queue_rows(tmp_path / "new" / "data") == before
        assert run(new, "eject").note == "stick.result.ejected"
        assert new.ui.maintenance.diagnostics.stick.sim_requests == ["eject"]
    finally:
        new.close()


def fake_rauc(bin_dir: Path, code: int, message: str) -> None:
    rauc = bin_dir / "rauc"
    rauc.write_text(f'#!/bin/sh\necho "{message}" >&2\nexit {code}\n')
    rauc.chmod(0o755)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_update_from_the_menu_says_what_went_wrong_or_how_to_use_it(tmp_path, kit, lang):
    """No bundle, two, a refused signature, then one installed: a restart into it is offered."""
    kit["stick"].mkdir()
    h = harness(tmp_path, kit, lang)
    try:
        assert run(h, "update_install", confirm=True).note == "stick.result.no_bundle"
        said(h, "stick.result.no_bundle")
        for name in ("kiosk-1.2.raucb", "kiosk-1.3.raucb"):
            (kit["stick"] / name).write_bytes(b"bundle")
        assert run(h, "update_install", confirm=True).note == "stick.result.many_bundles"
        (kit["stick"] / "kiosk-1.2.raucb").unlink()
        fake_rauc(kit["bin"], 1, "signature verification failed: invalid signature")
        page = run(h, "update_install", confirm=True)
        assert page.note == "stick.result.bundle_refused" and "signature" in page.rows[-1].value, page
        said(h, "stick.result.bundle_refused", bundle="kiosk-1.3.raucb")
        shot(h, "-update-refused")
        assert not any(b.name == "act-update_reboot" for b in h.ui.screen.buttons)
        fake_rauc(kit["bin"], 0, "Installing done.")
        page = run(h, "update_install", confirm=True)
        assert page.note == "stick.result.update_installed", page
        shot(h, "-update-installed")
        assert run(h, "update_reboot", confirm=True).note == "stick.result.rebooting"
        assert h.ui.maintenance.diagnostics.stick.sim_requests == ["update-reboot"]
    finally:
        h.close()


def test_working_is_shown_while_a_task_runs_and_its_buttons_wait(tmp_path, kit):
    kit["stick"].mkdir()
    h = harness(tmp_path, kit, "en")
    stick = h.ui.maintenance.diagnostics.stick
    release = __import__("threading").Event()
    real = stick.run
    stick.run = lambda task: (release.wait(10), real(task))[1]
    try:
        h.tap_button("act-queue_export")
        h.clock.advance(3)
        h.ui.text.rendered.clear()
        h.frame()
        said(h, "diag.working", s=3)
        assert not any(b.enabled for b in h.ui.screen.buttons if b.name.startswith("act-"))
        shot(h, "-working")
        release.set()
        settle(h)
        assert h.ui.screen.page.note == "stick.result.queue_empty"
    finally:
        release.set()
        h.close()


@pytest.fixture
def tiny_stick(kit):
    """A real file system too small for a log export (a 16 KiB tmpfs), mounted where the stick is."""
    kit["stick"].mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(kit["stick"])],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield kit["stick"]
    subprocess.run(["umount", str(kit["stick"])], check=True)


def test_a_full_or_read_only_stick_says_so_and_leaves_nothing(tmp_path, kit, tiny_stick):
    (tiny_stick / "filler").write_bytes(b"x" * 12 * 1024)
    h = harness(tmp_path, kit, "en")
    try:
        journal = [json.dumps({"MESSAGE": "level=info event=padding " + "y" * 400})] * 40
        fake_journalctl(kit["bin"], tmp_path / "journalctl.args", journal)
        assert run(h, "logs_export").note == "stick.result.full"
        said(h, "stick.result.full")
        assert [p.name for p in tiny_stick.iterdir()] == ["filler"]
        subprocess.run(["mount", "-o", "remount,ro", str(tiny_stick)], check=True)
        assert run(h, "queue_export").note == "stick.result.read_only"
        said(h, "stick.result.read_only")
        shot(h, "-read-only")
    finally:
        h.close()


def test_the_root_helper_leaves_the_outcome_the_menu_reads(tmp_path, kit, monkeypatch):
    """On the appliance the menu starts kiosk-stick-task@<task>.service; that unit's `kiosk stick
    run <task>` leaves the outcome in the data directory, and the menu reads it from there."""
    kit["stick"].mkdir()
    data = tmp_path / "data"
    env = {"KIOSK_CONFIG": "/dev/null", "KIOSK_DATA_DIR": str(data), "KIOSK_ID": KIOSK_ID,
           "KIOSK_SYNC_KEY_FILE": str(kit["key"]), "KIOSK_MAINTENANCE_STICK_DIR": str(kit["stick"]),
           "KIOSK_GPIO": "mock"}  # simulated devices: a folder is the stick (on the kiosk: a mount)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    started = []

    def systemctl(argv, **kwargs):  # what the unit would run, as root, in its own process
        started.append(argv)
        task = argv[-1].removeprefix("kiosk-stick-task@").removesuffix(".service")
        code = cli.main(["stick", "run", task])
        return subprocess.CompletedProcess(argv, code, "", "")

    cfg = {"maintenance.stick_dir": str(kit["stick"]), "kiosk.data_dir": str(data)}
    menu = stick_service.Stick(lambda: cfg, inline=False, run=systemctl)
    out = menu._via_helper("logs-export")
    assert started == [["systemctl", "--no-ask-password", "start", "kiosk-stick-task@logs-export.service"]]
    assert out.key == "logs_done" and out.ok, out
    assert cli.main(["logs", "verify", str(kit["stick"] / out.fields["folder"]), "--cert", str(kit["cert"])]) == 0
    # the unit failed before it could say anything: the menu says the helper failed, with why
    fail = stick_service.Stick(lambda: cfg, inline=False, run=lambda argv, **kw: subprocess.CompletedProcess(
        argv, 1, "", "Interactive authentication required."))
    out = fail._via_helper("queue-export")
    assert (out.key, out.detail) == ("helper_failed", "Interactive authentication required.")
