"""Issue 13, findings 3-5, through the real push path: the bureau simulator over mutual TLS, the
sync daemon, the layer file it writes and config.load reading it as both processes will."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import config
from kiosk.runtime.sdnotify import Notifier
from kiosk.sync.client import BureauClient
from kiosk.sync.daemon import SyncDaemon
from kiosk.sync.ipc import SyncClient
from kiosk.sync.outbox import Outbox
from kiosk.sync.reference_data import KIOSK_CONFIG, Cached, ReferenceData, _write_cached, cache_path
from kiosk.sync.seal import BureauSealer
from kiosk.sync.settings import SyncSettings
from tests.sync.helpers import loss_report
from tests.sync.simproc import BureauSim, queue_counts, start_daemon

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BureauSim]:
    sim = BureauSim(tmp_path_factory.mktemp("bureau")).start()
    yield sim
    sim.stop()


def client_for(sim: BureauSim, url: str = "") -> BureauClient:
    files = sim.files
    return BureauClient(url or sim.url, sim.kiosk_id, files["ca"], files[f"kiosk_cert:{sim.kiosk_id}"],
                        files[f"kiosk_key:{sim.kiosk_id}"], 5.0)


class Running:
    """A sync daemon in a thread, reloading the layers as `kiosk sync run` does."""

    def __init__(self, sim: BureauSim, tmp_path: Path) -> None:
        self.cfg_path = sim.kiosk_config(tmp_path / "data")
        self.settings = SyncSettings.from_config(self.config())
        self.data_dir = self.settings.data_dir
        self.daemon = SyncDaemon(self.settings, Outbox(self.data_dir, sim.kiosk_id,
                                                       BureauSealer.from_pem_file(
                                                           self.settings.bureau_public_key_file)),
                                 lambda: client_for(sim), Notifier(environ={}),
                                 reload=lambda: SyncSettings.from_config(self.config()))
        self.thread = threading.Thread(target=self.daemon.run, daemon=True)
        self.ui = SyncClient(self.settings.socket_path)

    def config(self) -> config.Config:
        return config.load(self.cfg_path, environ={})


@pytest.fixture
def kiosk(bureau: BureauSim, tmp_path: Path) -> Iterator[Running]:
    bureau.clear_faults()
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}", {"session.inactivity_s": 60})
    run = Running(bureau, tmp_path)
    run.thread.start()
    deadline = time.monotonic() + 20
    while not cache_path(run.data_dir, KIOSK_CONFIG).exists():
        assert time.monotonic() < deadline, "the daemon did not fetch its settings at start"
        time.sleep(0.05)
    yield run
    run.daemon.stop()
    run.thread.join(10)


def test_a_pushed_control_character_never_makes_an_unreadable_layer(kiosk, bureau):
    """GIVEN the bureau pushes kiosk.bureau_name with a carriage return and a bell next to a good
    session.inactivity_s WHEN the daemon fetches THEN the layer file it writes loads (the UI and
    the daemon still start), the bad name is refused and the good value applies."""
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}",
                 {"kiosk.bureau_name": "人社局\r\x07", "session.inactivity_s": 45})
    assert kiosk.ui.refresh_reference()["settings_changed"] is True
    cfg = kiosk.config()  # raised "not valid TOML (Illegal character '\r')" before the fix
    assert cfg["session.inactivity_s"] == 45.0 and cfg.sources["session.inactivity_s"] == "bureau"
    assert cfg["kiosk.bureau_name"] == "社会保险事业管理局" and cfg.notices == ()


def test_a_pushed_nan_heartbeat_is_refused_not_applied(kiosk, bureau):
    """GIVEN the bureau pushes sync.heartbeat_s = NaN (JSON NaN passes json.loads) WHEN the
    daemon fetches THEN the value is not in the layer, the config keeps the image's 30 s and
    the daemon's own heartbeat interval stays finite."""
    before = kiosk.daemon.settings.heartbeat_s
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}",
                 {"sync.heartbeat_s": float("nan"), "session.inactivity_s": 50})
    kiosk.ui.refresh_reference()
    cfg = kiosk.config()
    assert cfg["session.inactivity_s"] == 50.0
    assert cfg["sync.heartbeat_s"] == 30.0 and cfg.sources["sync.heartbeat_s"] == "file"
    assert "heartbeat" not in (kiosk.data_dir / config.BUREAU_LAYER_FILE).read_text()
    assert math.isfinite(kiosk.daemon.settings.heartbeat_s) and kiosk.daemon.settings.heartbeat_s == before


def test_a_version_with_a_newline_stays_inside_its_comment(tmp_path):
    """GIVEN a cached kiosk-config whose version carries a newline and a TOML table WHEN the
    daemon writes the bureau layer from it THEN the file loads and nothing of the version
    became a setting."""
    data = tmp_path / "data"
    body = {"kiosk_id": "KIOSK-0001", "version": 'v2\n[kiosk]\nid = "EVIL-01"\n',
            "settings": {"ui.language": "en"}}
    _write_cached(data, Cached(KIOSK_CONFIG, body, '"v2"', "", ""))
    assert ReferenceData(data, "KIOSK-0001").apply_settings() is True
    cfg = config.load(None, environ={"KIOSK_DATA_DIR": str(data)})
    assert cfg["kiosk.id"] == "KIOSK-0001" and cfg["ui.language"] == "en" and cfg.notices == ()


def test_the_sync_daemon_starts_over_a_broken_bureau_layer_and_writes_a_good_one(bureau, tmp_path):
    """GIVEN a bureau layer file that is not TOML (a bureau push of an older version left it)
    WHEN `kiosk sync run` starts THEN it runs (it is the only process that can fetch a
    correction), the bad file is set aside under a timestamped name, and the layer is written
    again from the bureau's current settings."""
    bureau.clear_faults()
    bureau.admin("PUT", f"/kiosk-config/{bureau.kiosk_id}", {"session.inactivity_s": 42})
    cfg_path = bureau.kiosk_config(tmp_path / "data")
    layer = tmp_path / "data" / config.BUREAU_LAYER_FILE
    layer.write_bytes(b'[kiosk]\nbureau_name = "a\rb"\n')
    proc = start_daemon(cfg_path, tmp_path / "daemon.log")
    try:
        deadline = time.monotonic() + 30
        while not (layer.exists() and "42" in layer.read_text()):
            code = proc.poll()
            assert code is None, f"the daemon exited {code}: {(tmp_path / 'daemon.log').read_text()[-400:]}"
            assert time.monotonic() < deadline, "the daemon did not write the layer again"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(15)
    aside = list((tmp_path / "data").glob(config.BUREAU_LAYER_FILE + ".bad-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b'[kiosk]\nbureau_name = "a\rb"\n'
    cfg = config.load(cfg_path, environ={})
    assert cfg["session.inactivity_s"] == 42.0 and cfg.sources["session.inactivity_s"] == "bureau"
    assert "config_layer_set_aside" in (tmp_path / "daemon.log").read_text()


def test_the_sync_daemon_refuses_a_kiosk_id_its_certificate_does_not_carry(bureau, tmp_path):
    """GIVEN a kiosk id (here from KIOSK_ID) that is not the subject of the client certificate
    WHEN `kiosk sync run` starts THEN it exits 2 at once with one line naming both, and sends
    nothing (every submission would have been dead-lettered as kiosk_mismatch)."""
    cfg_path = bureau.kiosk_config(tmp_path / "data")
    proc = start_daemon(cfg_path, tmp_path / "daemon.log", KIOSK_ID="KIOSK-0002")
    try:
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = (tmp_path / "daemon.log").read_text()
    assert code == 2, out[-400:]
    assert "kiosk.id 'KIOSK-0002' (from env) is not the client certificate's subject 'KIOSK-0001'" in out


def test_a_batch_level_404_holds_the_queue(bureau, tmp_path):
    """GIVEN three queued submissions and a bureau that answers the whole request 404 (a bureau
    URL with a wrong path: the real simulator's not_found) WHEN the daemon sends THEN nothing is
    dead-lettered: all three wait, with an alert, and go once the URL is right."""
    bureau.clear_faults()
    cfg_path = bureau.kiosk_config(tmp_path / "data")
    settings = SyncSettings.from_config(config.load(cfg_path, environ={}))
    outbox = Outbox(settings.data_dir, settings.kiosk_id,
                    BureauSealer.from_pem_file(settings.bureau_public_key_file))
    for _ in range(3):
        outbox.enqueue("card_loss_report", loss_report())
    daemon = SyncDaemon(settings, outbox, lambda: client_for(bureau, bureau.url + "/nowhere"),
                        Notifier(environ={}))
    daemon.drain_once()
    counts = queue_counts(settings.data_dir)
    daemon._client.close()
    daemon._query_client.close()
    assert counts == {"pending": 3, "in_flight": 0, "dead": 0}
    assert "bureau_refused_kiosk" in [a.kind for a in outbox.alerts()]
    good = SyncDaemon(settings, outbox, lambda: client_for(bureau), Notifier(environ={}))
    deadline = time.monotonic() + 30
    while queue_counts(settings.data_dir)["pending"]:
        assert time.monotonic() < deadline
        for _ in range(3):
            good.drain_once()
        time.sleep(0.2)
    good._client.close()
    good._query_client.close()
    outbox.close()
    assert queue_counts(settings.data_dir) == {"pending": 0, "in_flight": 0, "dead": 0}
