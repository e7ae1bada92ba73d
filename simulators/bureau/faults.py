"""Fault injection settings and the seeded dice that apply them to each public request."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Faults:
    """Rates are probabilities per request (0..1); each is rolled independently, in this order:
    tls_failure_rate (connection closed before the handshake), throttle_rate (429),
    error_rate (error_status, before any processing), drop_rate (connection closed without an
    answer: half of the drops happen after the request was processed and stored),
    garbage_rate (200 with a non-JSON or wrong-schema body, after processing).
    latency_ms is added to every answer."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    drop_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after_s: int = 1
    garbage_rate: float = 0.0
    tls_failure_rate: float = 0.0

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A copy with `changes` applied; ValueError on an unknown key or a bad value."""
        known = {f.name: f.type for f in fields(self)}
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number")
            if name.endswith("_rate"):
                if not 0.0 <= float(value) <= 1.0:
                    raise ValueError(f"{name} must be within 0..1")
                clean[name] = float(value)
            else:
                if value < 0 or int(value) != value:
                    raise ValueError(f"{name} must be a non-negative integer")
                clean[name] = int(value)
        if clean.get("error_status", self.error_status) not in (500, 502, 503, 504):
            raise ValueError("error_status must be 500, 502, 503 or 504")
        return replace(self, **clean)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Dice:
    """Current faults plus a seeded random source, shared by all request threads."""

    def __init__(self, faults: Faults, seed: int | None) -> None:
        self._faults = faults
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def update(self, changes: dict[str, Any]) -> Faults:
        with self._lock:
            self._faults = self._faults.updated(changes)
            return self._faults

    def roll(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._random.random() < rate

    def coin(self) -> bool:
        with self._lock:
            return self._random.random() < 0.5
