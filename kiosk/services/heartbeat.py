"""What the UI tells the bureau through the sync daemon's heartbeat: device health (with the
printer's paper state) and how often each citizen service was started, completed or failed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiosk.config import atomic_write
from kiosk.hw.health import DeviceHealth
from kiosk.sync.heartbeat_body import DEVICES, REASON_MAX

log = logging.getLogger(__name__)

COUNTERS_FILE = "usage-counters.json"
OUTCOMES = ("started", "completed", "failed")
# The UI's device names that differ from the heartbeat's DeviceHealth.device names. The bureau
# link is left out: the daemon itself knows whether the bureau answers.
DEVICE_NAMES = {"outbox": "storage"}


class UsageCounters:
    """Per service id: started / completed / failed counts since installation, and how many of
    them the sync daemon already took. Counts only, never who: no personal data. Thread-safe;
    persisted atomically on every change (a few writes per citizen session)."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / COUNTERS_FILE
        self._lock = threading.Lock()
        self._total: dict[str, dict[str, int]] = {}
        self._sent: dict[str, dict[str, int]] = {}
        self._load()

    def __repr__(self) -> str:
        return f"<UsageCounters {self.path} services={len(self._total)} unsent={sum(self.unsent().values())}>"

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            self._total = _counts(doc.get("total"))
            self._sent = _counts(doc.get("sent"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:
            # Counters are statistics: start again rather than keep the UI from starting.
            log.warning("event=usage_counters_unreadable error=%s", type(exc).__name__)

    def _save(self) -> None:
        doc = {"total": self._total, "sent": self._sent}
        atomic_write(self.path, json.dumps(doc, sort_keys=True).encode())

    def _add(self, service: str, outcome: str) -> None:
        if not service.replace("_", "").isalnum() or not service.islower():
            raise ValueError(f"service id must be lower-case letters, digits, _: {service!r}")
        with self._lock:
            row = self._total.setdefault(service, dict.fromkeys(OUTCOMES, 0))
            row[outcome] = row.get(outcome, 0) + 1
            self._save()

    def started(self, service: str) -> None:
        self._add(service, "started")

    def completed(self, service: str) -> None:
        self._add(service, "completed")

    def failed(self, service: str) -> None:
        self._add(service, "failed")

    def totals(self) -> dict[str, dict[str, int]]:
        """Every count since installation, for the maintenance menu."""
        with self._lock:
            return {s: dict(row) for s, row in self._total.items()}

    def unsent(self) -> dict[str, int]:
        """Counts not yet handed to the daemon, as heartbeat usage keys `service.outcome`."""
        with self._lock:
            out: dict[str, int] = {}
            for service, row in self._total.items():
                for outcome, n in row.items():
                    delta = n - self._sent.get(service, {}).get(outcome, 0)
                    if delta > 0:
                        out[f"{service}.{outcome}"] = delta
            return out

    def mark_sent(self, usage: Mapping[str, int]) -> None:
        """The daemon took these deltas (report() returned True)."""
        with self._lock:
            for name, n in usage.items():
                service, _, outcome = name.partition(".")
                row = self._sent.setdefault(service, dict.fromkeys(OUTCOMES, 0))
                row[outcome] = row.get(outcome, 0) + n
            self._save()


def _counts(raw: Any) -> dict[str, dict[str, int]]:
    if not isinstance(raw, dict):
        return {}
    return {str(s): {o: int(row.get(o, 0)) for o in OUTCOMES}
            for s, row in raw.items() if isinstance(row, dict)}


def device_health(snapshot: Mapping[str, DeviceHealth],
                  printer_health: DeviceHealth | None = None) -> list[dict[str, str]]:
    """DeviceHealth entries of the Heartbeat schema from the UI's health snapshot; devices the
    schema does not know are left out."""
    merged = dict(snapshot)
    if printer_health is not None:
        merged["printer"] = printer_health
    out = []
    for name, h in merged.items():
        device = DEVICE_NAMES.get(name, name)
        if device not in DEVICES:
            continue
        entry = {"device": device, "state": h.state.value}
        reason = ": ".join(p for p in (h.reason, h.detail) if p)
        if reason:
            entry["reason"] = reason[:REASON_MAX]
        out.append(entry)
    return out


def report(sync_client: Any, health_snapshot: Mapping[str, DeviceHealth],
           counters: UsageCounters, printer: Any = None) -> bool:
    """Hand device health and unsent usage counts to the sync daemon (call every ~30 s from a
    worker: it may block up to the IPC timeout and asks the printer). `printer` is the
    PrintService: its check() reads the paper state now (near end included) and raises the staff
    alert it calls for. False when the daemon is not there; the counts then wait for next time."""
    printer_health = None
    if printer is not None:
        status = printer.check()
        printer_health = status.health() if status is not None else DeviceHealth.offline(
            "health.printer.offline", "status query failed")
    devices = device_health(health_snapshot, printer_health)
    usage = counters.unsent()
    if not sync_client.report(devices=devices, usage=usage):
        log.info("event=heartbeat_report_deferred reason=sync_daemon_unavailable unsent=%d",
                 sum(usage.values()))
        return False
    if usage:
        counters.mark_sent(usage)
    return True
