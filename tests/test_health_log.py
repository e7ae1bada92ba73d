"""The health monitor logs state changes, not every drift of a detail (free space changes every
few seconds and would fill the journal with one line per poll)."""

from __future__ import annotations

import logging

from kiosk.hw.health import DeviceHealth
from kiosk.services.health import HealthMonitor


class Disk:
    def __init__(self) -> None:
        self.free_mb = 1000
        self.full = False

    def health(self) -> DeviceHealth:
        self.free_mb -= 3
        if self.full:
            return DeviceHealth.offline("health.outbox.full", f"free_mb={self.free_mb}")
        return DeviceHealth.ok(f"free_mb={self.free_mb}")


def test_only_state_changes_are_logged(caplog):
    disk = Disk()
    monitor = HealthMonitor(lambda: {"outbox": disk})
    with caplog.at_level(logging.INFO, logger="kiosk.services.health"):
        for _ in range(5):
            monitor.refresh()
        disk.full = True
        monitor.refresh()
        monitor.refresh()
    lines = [r.getMessage() for r in caplog.records if "event=health" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "state=ok" in lines[0] and "state=offline" in lines[1]
    assert monitor.snapshot()["outbox"].detail == f"free_mb={disk.free_mb}"  # the detail stays current
