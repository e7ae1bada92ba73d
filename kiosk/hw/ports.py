"""The device ports: one Protocol per device kind, the type every adapter, simulator stand-in and
caller uses. Adapters live beside this file; kiosk/hw/conformance.py holds each to its port.

Every device is a context manager, closes cleanly, describes itself in repr, and reports
health() without blocking for long (cached state refreshed by the adapter's own thread).
The protocols are runtime-checkable so the registry can refuse an adapter that is not what its
kind promises (the check is by member names only; mypy checks the signatures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

import numpy as np

from kiosk.hw.health import DeviceHealth
from kiosk.hw.idcard_model import IdCardData
from kiosk.hw.printer_model import PrinterStatus, PrintOp


@runtime_checkable
class Monitored(Protocol):
    """Anything whose health the kiosk watches and shows: devices, the bureau link, the outbox."""

    @property
    def name(self) -> str: ...  # "reader", "camera", "printer", "gpio", "bureau", "outbox"

    def health(self) -> DeviceHealth: ...

    def close(self) -> None: ...


@runtime_checkable
class Device(Monitored, Protocol):
    """A device the kiosk opens: monitored, and a context manager that closes it."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class Frame:
    """One camera frame: RGB uint8 array (H, W, 3) and its capture time (monotonic seconds)."""

    rgb: np.ndarray
    timestamp: float


@runtime_checkable
class Camera(Device, Protocol):
    def frames(self) -> Iterator[Frame]: ...

    # What the citizen is shown now (a liveness cue): only a synthetic subject reacts to it.
    def cue(self, event: object) -> None: ...


@runtime_checkable
class CardReader(Device, Protocol):
    """APDU transport to the card in one reader slot (see kiosk/card for the protocol on top).
    The PSAM's slot is a CardReader too: connect, transmit, end_session."""

    @property
    def atr(self) -> bytes | None: ...  # of the open card session, None without one

    def card_present(self) -> bool: ...

    def wait_for_card(self, timeout_s: float) -> bool: ...  # False after timeout_s

    def wait_for_removal(self, timeout_s: float) -> bool: ...

    def connect(self) -> bytes: ...  # opens a card session; the ATR

    def transmit(self, apdu: bytes) -> tuple[bytes, int]: ...  # (data, sw as int 0x9000)

    def end_session(self) -> None: ...  # disconnect and reset: nothing carries to the next citizen


@runtime_checkable
class IdCardReader(Device, Protocol):
    """A resident ID card (二代身份证) reader with its SAM (kiosk/hw/idcard_serial.py). Raises
    IdCardError (kiosk/hw/idcard_errors.py): NoIdCard, IdCardRemoved, IdCardUnreadable,
    IdCardReaderFault, SamUnavailable."""

    def wait_for_card(self, timeout_s: float) -> bool: ...  # False after timeout_s

    def read(self) -> IdCardData: ...  # find, select, read: the text checked, the photo dropped


@runtime_checkable
class BarcodeScanner(Device, Protocol):
    """A barcode scanner sending each decoded code as a line (kiosk/hw/scanner_serial.py). Raises
    ScannerError (kiosk/hw/scanner_errors.py): ScanRejected (a line that is not a code: too long,
    control bytes), ScannerFault (the line failed)."""

    def read_code(self, timeout_s: float) -> str | None: ...  # each code once; None after timeout_s

    def clear(self) -> None: ...  # forget what was scanned before now


@runtime_checkable
class Printer(Device, Protocol):
    """A receipt printer. Raises PrinterError (kiosk/hw/printer_model.py) saying before, during or
    after the receipt it failed."""

    @property
    def width_dots(self) -> int: ...

    def status(self) -> PrinterStatus: ...  # asks the printer now; never raises

    def print_receipt(self, ops: Sequence[PrintOp], cut: bool = True) -> PrinterStatus: ...

    def write(self, data: bytes) -> None: ...  # raw ESC/POS, the narrow primitive


@runtime_checkable
class Gpio(Device, Protocol):
    """Lights, buzzer and switches. Timed actions run from update(now) on the caller's clock."""

    @property
    def tamper(self) -> bool: ...  # the tamper beacon is on until a technician clears it

    @property
    def someone_present(self) -> bool: ...

    @property
    def door_open(self) -> bool: ...

    def call_staff(self, now: float) -> None: ...

    def beep(self, times: int = 1) -> None: ...

    def tamper_alarm(self) -> None: ...

    def clear_tamper(self) -> None: ...

    def consumables_alert(self) -> None: ...

    def set_status(self, status: str) -> None: ...  # ready / busy / offline / fault

    def update(self, now: float) -> None: ...

    def when_door_opens(self, callback: Callable[[], None]) -> None: ...


class Power(Protocol):
    """Restart the app, reboot, shut down (kiosk/hw/power.py: systemd on the appliance, recorded
    in simulation). Not a Device: nothing to open, close or watch."""

    def restart_app(self) -> None: ...

    def reboot(self) -> None: ...

    def shutdown(self) -> None: ...
