"""Reference data through the sync daemon from the real bureau simulator over mutual TLS: the
outlet cache with its ETag, 304s, garbage answers, and settings the bureau pushes."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import config
from kiosk.runtime.sdnotify import Notifier
from kiosk.services.reference import Outlet, load_outlets, outlets
from kiosk.sync.client import BureauClient
from kiosk.sync.daemon import SyncDaemon
from kiosk.sync.ipc import SyncClient
from kiosk.sync.outbox import NoSealer, Outbox
from kiosk.sync.reference_data import cache_path, read_cached
from kiosk.sync.settings import SyncSettings
from tests import openapi_util
from tests.sync.simproc import BureauSim

DEFAULT_PUSH = {"sync.heartbeat_s": 60, "session.inactivity_s": 60, "ui.language": "zh_CN",
                "liveness.attempts": 3}


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BureauSim]:
    sim = BureauSim(tmp_path_factory.mktemp("bureau")).start()
    yield sim
    sim.stop()


class Running:
    def __init__(self, sim: BureauSim, tmp_path: Path) -> None:
        self.cfg_path = sim.kiosk_config(tmp_path / "data")
        self.settings = SyncSettings.from_config(config.load(self.cfg_path, environ={}))
        self.data_dir = self.settings.data_dir
        outbox = Outbox(self.data_dir, sim.kiosk_id, NoSealer())
        files = sim.files

        def client() -> BureauClient:
            return BureauClient(sim.url, sim.kiosk_id, files["ca"],
                                files[f"kiosk_cert:{sim.kiosk_id}"],
                                files[f"kiosk_key:{sim.kiosk_id}"], 5.0)

        self.daemon = SyncDaemon(self.settings, outbox, client, Notifier(environ={}),
                                 reload=self.reload)
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)
        self.ui = SyncClient(self.settings.socket_path)

    def reload(self) -> SyncSettings:
        return SyncSettings.from_config(config.load(self.cfg_path, environ={}))

    def config(self) -> config.Config:
        return config.load(self.cfg_path, environ={})


@pytest.fixture
def kiosk(bureau: BureauSim, tmp_path: Path) -> Iterator[Running]:
    bureau.clear_faults()
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}", DEFAULT_PUSH)
    run = Running(bureau, tmp_path)
    run.thread.start()
    deadline = time.monotonic() + 20
    while not (cache_path(run.data_dir, "outlets").exists()
               and cache_path(run.data_dir, "kiosk-config").exists()):
        assert time.monotonic() < deadline, "the daemon did not fetch reference data at start"
        time.sleep(0.05)
    yield run
    run.daemon.stop()
    run.thread.join(10)
    bureau.clear_faults()


def test_without_a_cache_the_ui_gets_no_outlets_and_a_reason(tmp_path):
    assert outlets(tmp_path) == []
    assert load_outlets(tmp_path).reason == "reference.outlets.not_yet"


def test_outlets_are_cached_with_their_etag_and_a_304_keeps_them(kiosk):
    """GIVEN a daemon that started against the bureau THEN the outlets are on disk with the
    bureau's ETag; WHEN asked again THEN the bureau answers 304 and the cache stays as it was."""
    first = read_cached(kiosk.data_dir, "outlets")
    assert first is not None and first.etag and first.version in first.etag
    openapi_util.validate("Outlets", first.body)
    found = outlets(kiosk.data_dir)
    assert found and all(isinstance(o, Outlet) for o in found)
    assert {o.outlet_id for o in found} == {o["outlet_id"] for o in first.body["outlets"]}
    assert load_outlets(kiosk.data_dir).version == first.version

    time.sleep(1.1)  # checked_at has one-second resolution
    result = kiosk.ui.refresh_reference()
    assert result == {"outlets": "unchanged", "kiosk-config": "unchanged",
                      "settings_changed": False}
    again = read_cached(kiosk.data_dir, "outlets")
    assert (again.body, again.etag, again.fetched_at) == (first.body, first.etag,
                                                          first.fetched_at)
    assert again.checked_at > first.checked_at


def test_garbage_keeps_the_old_cache(kiosk, bureau, caplog):
    """GIVEN cached outlets and settings WHEN the bureau answers garbage to both THEN both caches
    and the bureau layer file stay as they were, and the daemon says so in its log."""
    outlets_before = cache_path(kiosk.data_dir, "outlets").read_bytes()
    layer = kiosk.data_dir / config.BUREAU_LAYER_FILE
    layer_before = layer.read_bytes()
    # Make both questions get a 200 (garbage is only ever injected into 200s): a stale ETag for
    # the outlets, a settings change for the kiosk config.
    doc = json.loads(outlets_before)
    doc["etag"] = '"stale"'
    config.atomic_write(cache_path(kiosk.data_dir, "outlets"), json.dumps(doc).encode())
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}", {**DEFAULT_PUSH,
                                                              "session.inactivity_s": 90})
    bureau.set_faults(garbage_rate=1.0)
    with caplog.at_level(logging.WARNING, logger="kiosk.sync.reference_data"):
        result = kiosk.ui.refresh_reference()
    assert result == {"outlets": "kept_old", "kiosk-config": "kept_old",
                      "settings_changed": False}
    assert read_cached(kiosk.data_dir, "outlets").body == json.loads(outlets_before)["body"]
    assert layer.read_bytes() == layer_before
    assert sum("event=reference_garbage" in r.getMessage() for r in caplog.records) == 2

    bureau.clear_faults()
    assert kiosk.ui.refresh_reference()["kiosk-config"] == "updated"
    assert kiosk.config()["session.inactivity_s"] == 90.0


def test_pushed_settings_become_the_bureau_layer(kiosk, bureau, caplog):
    """GIVEN the bureau pushes session.inactivity_s=45 with an unknown key, an invalid value and
    a key the bureau may not set WHEN the daemon fetches THEN only the valid, pushable keys reach
    bureau-settings.toml, kiosk.config.load shows them from the "bureau" layer, each dropped key
    is logged, and the daemon's own heartbeat interval follows at once."""
    pushed = {"session.inactivity_s": 45, "ui.language": "en", "sync.heartbeat_s": 20,
              "liveness.attempts": 99, "nonsense.key": 1, "kiosk.data_dir": "/tmp/elsewhere",
              "ui.fps": 10}
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}", pushed)
    with caplog.at_level(logging.INFO):
        result = kiosk.ui.refresh_reference()
    assert result == {"outlets": "unchanged", "kiosk-config": "updated", "settings_changed": True}

    text = (kiosk.data_dir / config.BUREAU_LAYER_FILE).read_text()
    written = config.read_toml(kiosk.data_dir / config.BUREAU_LAYER_FILE)
    assert written == {"session.inactivity_s": 45.0, "ui.language": "en", "sync.heartbeat_s": 20.0}
    assert "nonsense" not in text and "elsewhere" not in text and "attempts" not in text

    cfg = kiosk.config()
    assert cfg["session.inactivity_s"] == 45.0 and cfg.sources["session.inactivity_s"] == "bureau"
    assert cfg["ui.language"] == "en" and cfg.sources["ui.language"] == "bureau"
    assert cfg["liveness.attempts"] == 3 and cfg.sources["liveness.attempts"] == "default"
    assert cfg["kiosk.data_dir"] == str(kiosk.data_dir)

    dropped = {r.getMessage().split()[1]: r.getMessage().split()[2] for r in caplog.records
               if "event=bureau_setting_dropped" in r.getMessage()}
    assert dropped == {"key=nonsense.key": "reason=unknown",
                       "key=kiosk.data_dir": "reason=not_pushable",
                       "key=ui.fps": "reason=not_pushable",
                       "key=liveness.attempts": "reason=invalid"}
    assert kiosk.daemon.settings.heartbeat_s == 20.0  # adopted without a restart

    # The same push again changes nothing; a removed layer file is written again from the cache.
    assert kiosk.ui.refresh_reference()["settings_changed"] is False
    (kiosk.data_dir / config.BUREAU_LAYER_FILE).unlink()
    assert kiosk.ui.refresh_reference()["settings_changed"] is True
    assert kiosk.config().sources["session.inactivity_s"] == "bureau"


def test_a_heartbeat_ack_naming_a_newer_config_triggers_a_fetch(kiosk, bureau):
    """GIVEN a running daemon WHEN the bureau's settings change THEN the next heartbeat's ack
    names the new version and the daemon fetches it without waiting for sync.reference_s."""
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}", {"session.inactivity_s": 33})
    kiosk.daemon._next_heartbeat = 0.0  # a heartbeat falls due (the loop's client is its own)
    kiosk.daemon._wake.set()
    deadline = time.monotonic() + 10
    while kiosk.config()["session.inactivity_s"] != 33.0:
        assert time.monotonic() < deadline, "the daemon did not follow the ack's version"
        time.sleep(0.05)
