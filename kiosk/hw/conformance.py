"""Every adapter is its port, checked by mypy: each function below only returns its argument, so
an adapter whose methods drift from the Protocol in kiosk/hw/ports.py (a parameter added, a
return type changed, a method missing) fails `make lint` here, naming the adapter and the member.

The registry repeats the check by member names at run time for adapters it imports by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.hw.ports import BarcodeScanner, Camera, CardReader, Device, Gpio, IdCardReader, Power, Printer

if TYPE_CHECKING:  # typing only: importing the adapters costs nothing at run time this way
    from kiosk.hw.camera_opencv import OpenCvCamera
    from kiosk.hw.camera_picamera2 import PiCamera
    from kiosk.hw.camera_synthetic import SyntheticCameraAdapter
    from kiosk.hw.gpio import GpioPanel
    from kiosk.hw.idcard_serial import SerialIdCardReader
    from kiosk.hw.power import SimPower, SystemdPower
    from kiosk.hw.printer_escpos import EscposPrinter
    from kiosk.hw.reader_pcsc import PcscReader
    from kiosk.hw.registry import Unavailable
    from kiosk.hw.scanner_serial import SerialBarcodeScanner


def pcsc_reader(adapter: PcscReader) -> CardReader:
    return adapter


def opencv_camera(adapter: OpenCvCamera) -> Camera:
    return adapter


def pi_camera(adapter: PiCamera) -> Camera:
    return adapter


def synthetic_camera(adapter: SyntheticCameraAdapter) -> Camera:
    return adapter


def escpos_printer(adapter: EscposPrinter) -> Printer:
    return adapter


def gpio_panel(adapter: GpioPanel) -> Gpio:
    return adapter


def serial_idcard_reader(adapter: SerialIdCardReader) -> IdCardReader:
    return adapter


def serial_barcode_scanner(adapter: SerialBarcodeScanner) -> BarcodeScanner:
    return adapter


def unavailable(stand_in: Unavailable) -> Device:
    return stand_in


def systemd_power(adapter: SystemdPower) -> Power:
    return adapter


def sim_power(adapter: SimPower) -> Power:
    return adapter
