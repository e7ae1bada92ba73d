"""The device ports: one Protocol per device kind. Adapters live beside this file.

Every device is a context manager, closes cleanly, describes itself in repr, and reports
health() without blocking for long (cached state refreshed by the adapter's own thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from kiosk.hw.health import DeviceHealth


@runtime_checkable
class Device(Protocol):
    name: str  # "reader", "camera", "printer", "gpio"

    def health(self) -> DeviceHealth: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Frame:
    """One camera frame: RGB uint8 array (H, W, 3) and its capture time (monotonic seconds)."""

    rgb: np.ndarray
    timestamp: float


class Camera(Device, Protocol):
    def frames(self) -> Iterator[Frame]: ...


class CardReader(Device, Protocol):
    """APDU transport to the card in the reader (see kiosk/card for the protocol on top)."""

    def card_present(self) -> bool: ...

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...  # (data, sw as int 0x9000)


class Printer(Device, Protocol):
    def write(self, data: bytes) -> None: ...


class Gpio(Device, Protocol):
    def call_staff(self) -> None: ...

    def set_status(self, status: str) -> None: ...  # ready / busy / offline / fault
