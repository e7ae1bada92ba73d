"""Refreshes every device's health on a worker thread so the UI loop only reads a snapshot."""

from __future__ import annotations

import logging
import threading
import time
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
        # what a service just saw (a live query found the bureau unreachable): (health, until,
        # the device's own state when seen). It holds until the device's own report changes,
        # the service sees it well again, or `until` passes.
        self._observed: dict[str, tuple[DeviceHealth, float, tuple[Any, str]]] = {}
        self.clock: Callable[[], float] = time.monotonic

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
        now = self.clock()
        with self._lock:
            snap = dict(self._snapshot)
            for name, (seen, until, baseline) in list(self._observed.items()):
                own = snap.get(name)
                if now >= until or own is None or (own.state, own.reason) != baseline:
                    del self._observed[name]  # the device's own word (or time) has caught up
                else:
                    snap[name] = seen
        snap.update(self.overrides)
        return snap

    def observe(self, name: str, health: DeviceHealth | None, hold_s: float = 30.0) -> None:
        """A service saw `name` in this state just now (None: seen working again, the device's
        own report stands). Shown at once, so the screen does not say "online" beside a message
        that the bureau cannot be reached."""
        with self._lock:
            own = self._snapshot.get(name)
            if health is None or own is None:
                if self._observed.pop(name, None) is not None:
                    log.info("event=health_seen device=%s state=usable", name)
                return
            if name not in self._observed:
                log.info("event=health_seen device=%s state=%s reason=%s", name, health.state.value, health.reason)
            self._observed[name] = (health, self.clock() + hold_s, (own.state, own.reason))

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="health-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
