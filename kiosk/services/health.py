"""Refreshes every device's health on a worker thread so the UI loop only reads a snapshot."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.hw.health import DeviceHealth as DeviceHealth  # re-exported: the screens reach it here

log = logging.getLogger(__name__)


class HealthMonitor:
    def __init__(self, devices: Callable[[], Mapping[str, Any]], interval_s: float = 2.0) -> None:
        self._devices = devices
        self.interval_s = interval_s
        self._snapshot: dict[str, DeviceHealth] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.overrides: dict[str, DeviceHealth] = {}  # set by diagnostics/simulation panels

    def refresh(self) -> dict[str, DeviceHealth]:
        """Ask every device once (may block on slow devices: call from a worker)."""
        fresh: dict[str, DeviceHealth] = {}
        for name, dev in self._devices().items():
            try:
                fresh[name] = dev.health()
            except Exception as exc:  # a device whose health check fails is offline
                fresh[name] = DeviceHealth.offline(f"health.{name}.failed", repr(exc))
        with self._lock:
            old = self._snapshot
            self._snapshot = fresh
        for name, h in fresh.items():
            before = old.get(name)
            # state or reason changes are events; a detail that drifts (free space) is not
            if before is None or (before.state, before.reason) != (h.state, h.reason):
                log.info("event=health device=%s state=%s reason=%s detail=%r",
                         name, h.state.value, h.reason, h.detail)
        return fresh

    def snapshot(self) -> dict[str, DeviceHealth]:
        with self._lock:
            snap = dict(self._snapshot)
        snap.update(self.overrides)
        return snap

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="health-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
