"""Usage counters and device health from the UI side reach the bureau in the daemon's heartbeat,
which fits the contract's Heartbeat schema."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk import config
from kiosk.hw.health import DeviceHealth
from kiosk.runtime.sdnotify import Notifier
from kiosk.services.heartbeat import UsageCounters, device_health, report
from kiosk.sync.client import BureauClient
from kiosk.sync.daemon import SyncDaemon
from kiosk.sync.ipc import SyncClient
from kiosk.sync.outbox import NoSealer, Outbox
from kiosk.sync.settings import SyncSettings
from simulators.printer import PrinterSimulator
from tests import openapi_util
from tests.printer.conftest import service as print_service
from tests.sync.simproc import BureauSim


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BureauSim]:
    sim = BureauSim(tmp_path_factory.mktemp("bureau")).start()
    yield sim
    sim.stop()


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[PrinterSimulator]:
    with PrinterSimulator(port=0, out_dir=tmp_path / "printer", width_dots=384,
                          control_port=0, idle_timeout=5) as sim:
        yield sim


@pytest.fixture
def daemon(bureau: BureauSim, tmp_path: Path) -> Iterator[SyncDaemon]:
    bureau.clear_faults()
    cfg_path = bureau.kiosk_config(tmp_path / "data")
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
    deadline = time.monotonic() + 20
    while not SyncClient(settings.socket_path).status().online:
        assert time.monotonic() < deadline, "daemon did not reach the bureau"
        time.sleep(0.05)
    yield d
    d.stop()
    thread.join(10)


def last_heartbeat(bureau: BureauSim, since_count: int = 0, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        beats = bureau.admin("GET", "/heartbeats")["heartbeats"]
        mine = [b for b in beats if b["kiosk_id"] == bureau.kiosk_id]
        if mine and mine[0]["count"] > since_count:
            return mine[0]
        assert time.monotonic() < deadline, "no new heartbeat reached the bureau"
        time.sleep(0.05)


def test_usage_counters_persist_atomically_without_personal_data(tmp_path):
    counters = UsageCounters(tmp_path)
    counters.started("apply_card")
    counters.started("apply_card")
    counters.completed("apply_card")
    counters.failed("payment_records")
    assert UsageCounters(tmp_path).totals() == {
        "apply_card": {"started": 2, "completed": 1, "failed": 0},
        "payment_records": {"started": 0, "completed": 0, "failed": 1}}
    assert counters.unsent() == {"apply_card.started": 2, "apply_card.completed": 1,
                                 "payment_records.failed": 1}
    counters.mark_sent({"apply_card.started": 2})
    counters.started("apply_card")
    assert UsageCounters(tmp_path).unsent() == {"apply_card.started": 1,
                                                "apply_card.completed": 1,
                                                "payment_records.failed": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage-counters.json"]  # no temp left
    with pytest.raises(ValueError):
        counters.started("张三")  # a service id, never a name


def test_device_health_maps_to_the_heartbeat_schema():
    snap = {"reader": DeviceHealth.ok("ACS ACR39U"), "camera": DeviceHealth.offline(
        "health.camera.offline", "no frames"), "bureau": DeviceHealth.ok(), "outbox":
        DeviceHealth.ok("pending=0"), "gpio": DeviceHealth.ok(), "panel": DeviceHealth.ok()}
    devices = device_health(snap)
    assert {d["device"] for d in devices} == {"reader", "camera", "storage", "gpio"}
    for d in devices:
        openapi_util.validate("DeviceHealth", d)


def test_usage_and_device_health_reach_the_bureau(daemon, bureau, printer, tmp_path):
    """GIVEN a printer whose paper is nearly out and some services used WHEN the UI reports
    THEN the bureau's last heartbeat carries the counts per service and outcome and the printer
    as degraded (paper near end), and the heartbeat fits the contract; counts acknowledged by
    the bureau are not sent again."""
    printer.set_state("paper_near_end")
    counters = UsageCounters(tmp_path / "ui")
    for _ in range(3):
        counters.started("apply_card")
    counters.completed("apply_card")
    counters.failed("apply_card")
    counters.completed("payment_records")
    snapshot = {"reader": DeviceHealth.ok(), "camera": DeviceHealth.ok(),
                "gpio": DeviceHealth.ok(), "outbox": DeviceHealth.ok(),
                "bureau": DeviceHealth.ok(), "printer": DeviceHealth.ok()}  # stale: check() wins
    ui = SyncClient(daemon.settings.socket_path)
    before = last_heartbeat(bureau)["count"]

    # The first report since the daemon started triggers a heartbeat at once.
    assert report(ui, snapshot, counters, printer=print_service(printer.port))
    beat = last_heartbeat(bureau, before)
    body = beat["body"]
    openapi_util.validate("Heartbeat", body)
    assert body["usage"] == {"apply_card.started": 3, "apply_card.completed": 1,
                             "apply_card.failed": 1, "payment_records.completed": 1}
    devices = {d["device"]: d for d in body["devices"]}
    assert set(devices) == {"reader", "camera", "gpio", "storage", "printer"}
    assert devices["printer"]["state"] == "degraded"
    assert devices["printer"]["reason"].startswith("health.printer.paper_near_end")
    assert counters.unsent() == {}
    assert "config_version" in body  # the kiosk-config version cached at start

    # Acknowledged counts are not sent twice; new ones are.
    counters.completed("apply_card")
    assert report(ui, snapshot, counters)
    daemon._next_heartbeat = 0.0
    daemon._wake.set()
    body = last_heartbeat(bureau, beat["count"])["body"]
    openapi_util.validate("Heartbeat", body)
    assert body["usage"] == {"apply_card.completed": 1}


def test_report_without_a_daemon_keeps_the_counts(tmp_path):
    counters = UsageCounters(tmp_path)
    counters.started("balances")
    assert not report(SyncClient(tmp_path / "none.sock"), {}, counters)
    assert counters.unsent() == {"balances.started": 1}


def test_the_daemon_drops_entries_off_the_schema(daemon, bureau):
    ui = SyncClient(daemon.settings.socket_path)
    before = last_heartbeat(bureau)["count"]
    assert ui.report(devices=[{"device": "toaster", "state": "ok"},
                              {"device": "camera", "state": "melting"},
                              {"device": "reader", "state": "ok", "reason": "x" * 500}],
                     usage={"apply_card.started": 2, "bad key!": 1, "x.y": -4})
    body = last_heartbeat(bureau, before)["body"]
    openapi_util.validate("Heartbeat", body)
    assert body["devices"] == [{"device": "reader", "state": "ok", "reason": "x" * 200}]
    assert body["usage"] == {"apply_card.started": 2}
