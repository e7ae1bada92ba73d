"""The barcode scanner simulator on a real pseudo-terminal, and the kiosk's adapter opened on it as
on /dev/ttyACM0."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.hw.scanner_serial import SerialBarcodeScanner, open_line
from simulators.scanner import ScannerSim

LINE_GAP_S = 0.15  # short, so the partial-line paths stay fast; the default is 0.3 s


@pytest.fixture
def sim() -> Iterator[ScannerSim]:
    with ScannerSim() as running:
        yield running


@pytest.fixture
def scanner(sim: ScannerSim) -> Iterator[SerialBarcodeScanner]:
    with SerialBarcodeScanner(open_line(sim.device, 9600), sim.device, line_gap_s=LINE_GAP_S) as adapter:
        yield adapter
