"""The heartbeat's body (Heartbeat in docs/bureau-api.yaml), and what the UI may put in it: held
to the DeviceHealth and usage shapes, so one odd entry cannot make the bureau refuse it all."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.sync.records import QueueStatus

log = logging.getLogger(__name__)

DEVICES = ("reader", "psam", "camera", "printer", "gpio", "display", "network", "storage")
STATES = ("ok", "degraded", "offline")
REASON_MAX = 200
USAGE_MAX_KEYS = 200  # a runaway caller must not grow the heartbeat without bound
USAGE_KEY = re.compile(r"^[a-z0-9_]{1,48}(\.[a-z0-9_]{1,24})?$")


def clean_devices(devices: Any) -> list[dict[str, str]] | None:
    """DeviceHealth dicts that fit the schema (one per device, last wins); None when the caller
    sent no list at all (the previous report stands)."""
    if not isinstance(devices, list):
        return None
    kept: dict[str, dict[str, str]] = {}
    for item in devices:
        if (not isinstance(item, dict) or item.get("device") not in DEVICES
                or item.get("state") not in STATES):
            log.warning("event=heartbeat_device_dropped device=%s",
                        str(item.get("device"))[:20] if isinstance(item, dict) else "-")
            continue
        entry = {"device": item["device"], "state": item["state"]}
        reason = item.get("reason")
        if isinstance(reason, str) and reason:
            entry["reason"] = reason[:REASON_MAX]
        kept[entry["device"]] = entry
    return list(kept.values())


def clean_usage(usage: Any) -> dict[str, int]:
    """Non-negative integer counts under `service` or `service.outcome` names."""
    if not isinstance(usage, dict):
        return {}
    kept: dict[str, int] = {}
    for name, n in usage.items():
        if (isinstance(name, str) and USAGE_KEY.match(name) and isinstance(n, int)
                and not isinstance(n, bool) and n > 0 and len(kept) < USAGE_MAX_KEYS):
            kept[name] = n
        elif n != 0:
            log.warning("event=heartbeat_usage_dropped key=%s", str(name)[:60])
    return kept


class Reported:
    """What the UI reported, waiting for the next heartbeat: the latest device list, and usage
    counts summed until a heartbeat carrying them is acknowledged. IPC threads add; the daemon's
    loop takes and settles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: list[dict[str, str]] = []
        self._usage: dict[str, int] = {}
        self._heard_devices = False

    def __repr__(self) -> str:
        return f"<Reported devices={len(self._devices)} usage={sum(self._usage.values())}>"

    def add(self, devices: Any, usage: Any) -> tuple[bool, dict[str, int]]:
        """Take one report; True first when it is the first device list since start."""
        clean_dev, clean_use = clean_devices(devices), clean_usage(usage)
        with self._lock:
            if clean_dev is not None:
                self._devices = clean_dev
            for name, n in clean_use.items():
                self._usage[name] = self._usage.get(name, 0) + n
            first = clean_dev is not None and not self._heard_devices
            self._heard_devices = self._heard_devices or clean_dev is not None
        return first, {"devices": len(clean_dev or []), "usage": len(clean_use)}

    def take(self) -> tuple[list[dict[str, str]], dict[str, int]]:
        with self._lock:
            return list(self._devices), dict(self._usage)

    def acknowledged(self, usage: dict[str, int]) -> None:
        """The bureau acknowledged a heartbeat with these counts: they are not sent again."""
        with self._lock:
            for name, n in usage.items():
                left = self._usage.get(name, 0) - n
                if left > 0:
                    self._usage[name] = left
                else:
                    self._usage.pop(name, None)


def build(kiosk_id: str, sent_at: float, clock_trusted: bool, boot: int, queue: QueueStatus,
          devices: list[dict[str, str]], usage: dict[str, int], data_dir: Path,
          config_version: str) -> dict[str, object]:
    """The body of one heartbeat, sent at wall-clock time sent_at."""
    body: dict[str, object] = {
        "kiosk_id": kiosk_id,
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent_at)),
        "clock_synchronised": clock_trusted,
        "boot_counter": boot,
        "uptime_s": _uptime_s(),
        "software_version": __version__,
        "devices": devices,
        "queue": {"pending": queue.pending, "in_flight": queue.in_flight, "dead": queue.dead,
                  "oldest_pending_age_s": None if queue.oldest_pending_age_s is None
                  else int(queue.oldest_pending_age_s)},
        "usage": usage,
        "disk_free_bytes": _free_bytes(data_dir),
    }
    if config_version:
        body["config_version"] = config_version[:80]
    return body


def _uptime_s() -> int:
    try:
        with open("/proc/uptime") as fh:
            return int(float(fh.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return int(time.monotonic())


def _free_bytes(path: Path) -> int:
    try:
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize
    except OSError:
        return 0
