"""Device health as a value: ok / degraded / offline with a reason the UI can explain."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class HealthState(str, Enum):
    OK = "ok"
    DEGRADED = "degraded"  # works, but needs attention soon (paper near end, slow camera)
    OFFLINE = "offline"  # cannot serve


@dataclass(frozen=True)
class DeviceHealth:
    """state plus a message key (translated by the UI) and a technician detail (never personal data)."""

    state: HealthState
    reason: str = ""  # message key, e.g. "health.printer.paper_out"
    detail: str = ""  # free text for logs and diagnostics

    @property
    def usable(self) -> bool:
        return self.state is not HealthState.OFFLINE

    @classmethod
    def ok(cls, detail: str = "") -> DeviceHealth:
        return cls(HealthState.OK, "", detail)

    @classmethod
    def degraded(cls, reason: str, detail: str = "") -> DeviceHealth:
        return cls(HealthState.DEGRADED, reason, detail)

    @classmethod
    def offline(cls, reason: str, detail: str = "") -> DeviceHealth:
        return cls(HealthState.OFFLINE, reason, detail)
