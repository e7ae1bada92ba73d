"""The wall clock is trusted only when chrony has synchronised it AND the bureau's server_time
agrees with it (issue 13, #11). Time is moved through kiosk.sync.clock's injectable functions,
never on the machine; the daemon runs in this process against the bureau simulator over mTLS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk import config
from kiosk.runtime.sdnotify import Notifier
from kiosk.sync import clock
from kiosk.sync.client import BureauClient
from kiosk.sync.daemon import SyncDaemon
from kiosk.sync.ipc import SyncClient
from kiosk.sync.outbox import NoSealer, Outbox
from kiosk.sync.settings import SyncSettings
from tests.sync.simproc import BureauSim


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BureauSim]:
    sim = BureauSim(tmp_path_factory.mktemp("bureau")).start()
    yield sim
    sim.stop()


def run_daemon(bureau: BureauSim, tmp_path: Path) -> tuple[SyncDaemon, threading.Thread, Path]:
    cfg_path = bureau.kiosk_config(tmp_path / "data", heartbeat_s=3600.0)
    settings = SyncSettings.from_config(config.load(cfg_path, environ={}))
    files = bureau.files

    def client() -> BureauClient:
        return BureauClient(bureau.url, bureau.kiosk_id, files["ca"],
                            files[f"kiosk_cert:{bureau.kiosk_id}"],
                            files[f"kiosk_key:{bureau.kiosk_id}"], 5.0)

    d = SyncDaemon(settings, Outbox(settings.data_dir, bureau.kiosk_id, NoSealer()), client,
                   Notifier(environ={}))
    thread = threading.Thread(target=d.run, daemon=True)
    thread.start()
    return d, thread, settings.socket_path


def heartbeats_after(bureau: BureauSim, count: int, timeout: float = 20) -> dict[str, Any]:
    """The bureau's record of this kiosk once it has received `count` heartbeats in all."""
    deadline = time.monotonic() + timeout
    while True:
        beats = [b for b in bureau.admin("GET", "/heartbeats")["heartbeats"]
                 if b["kiosk_id"] == bureau.kiosk_id]
        if beats and beats[0]["count"] >= count:
            return beats[0]
        assert time.monotonic() < deadline, f"fewer than {count} heartbeats reached the bureau"
        time.sleep(0.05)


def beats_so_far(bureau: BureauSim) -> int:
    beats = [b for b in bureau.admin("GET", "/heartbeats")["heartbeats"]
             if b["kiosk_id"] == bureau.kiosk_id]
    return beats[0]["count"] if beats else 0


@pytest.mark.parametrize("skew_s, trusted", [(3 * 3600.0, False), (-86_400.0, False),
                                             (0.0, True)])
def test_a_clock_far_from_the_bureaus_is_not_trusted_and_the_heartbeat_says_so(
        bureau, tmp_path, monkeypatch, skew_s, trusted):
    """GIVEN chrony says synchronised WHEN the kiosk's wall clock is `skew_s` away from the
    bureau's server_time THEN the status the UI reads and the next heartbeat the bureau gets
    say clock_synchronised = `trusted`."""
    monkeypatch.setattr(clock, "clock_synchronised", lambda: True)
    monkeypatch.setattr(clock, "wall", lambda: time.time() + skew_s)
    before = beats_so_far(bureau)
    d, thread, sock = run_daemon(bureau, tmp_path)
    try:
        # The first heartbeat carries the check made so far; the cross-check it brings back
        # is reported at once in a second one if the verdict changed.
        beat = heartbeats_after(bureau, before + 1)
        deadline = time.monotonic() + 10
        while beat["body"]["clock_synchronised"] is not trusted and time.monotonic() < deadline:
            time.sleep(0.05)
            beat = heartbeats_after(bureau, before + 1)
        status = SyncClient(sock).status(timeout=5)
        while (not status.online or status.clock_synchronised is not trusted) \
                and time.monotonic() < deadline:  # the status the UI reads is refreshed 2x/s
            time.sleep(0.05)
            status = SyncClient(sock).status(timeout=5)
        print(f"skew {skew_s:+.0f} s: heartbeat clock_synchronised="
              f"{beat['body']['clock_synchronised']} status clock_synchronised="
              f"{status.clock_synchronised}")
        assert beat["body"]["clock_synchronised"] is trusted
        assert status.online is True and status.clock_synchronised is trusted
    finally:
        d.stop()
        thread.join(10)


def test_trust_needs_chrony_and_the_bureau_and_ends_when_the_clock_is_stepped() -> None:
    """ClockCheck on its own: no verdict before a check; an agreeing check with chrony unsynced
    is no trust; a step of the wall clock after the check ends the trust until the next one."""
    now = {"wall": 1_750_000_000.0, "mono": 100.0}
    synced = {"ok": True}
    check = clock.ClockCheck(wall=lambda: now["wall"], monotonic=lambda: now["mono"],
                             synchronised=lambda: synced["ok"])
    assert check.trusted() is False  # not yet compared with the bureau
    check.observe("2025-06-15T15:06:40Z", sent_wall=now["wall"] - 0.2, received_wall=now["wall"])
    assert check.trusted() is True
    synced["ok"] = False
    assert check.trusted() is False
    synced["ok"] = True
    now["mono"] += 60
    now["wall"] += 60
    assert check.trusted() is True  # time passes on both clocks alike
    now["wall"] += 3600  # stepped after the check
    assert check.trusted() is False
    assert check.observe("garbage", now["wall"], now["wall"]) is None
