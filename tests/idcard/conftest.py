"""The ID card reader simulator on a real pseudo-terminal, and the kiosk's adapter opened on it
as on /dev/ttyUSB0."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.hw.idcard_serial import SerialIdCardReader, open_line
from simulators.idcard import IdCardReaderSim

REPLY_TIMEOUT_S = 0.6  # short, so the "no reply" paths stay fast; the default is 3 s


@pytest.fixture
def sim() -> Iterator[IdCardReaderSim]:
    with IdCardReaderSim() as running:
        yield running


@pytest.fixture
def reader(sim: IdCardReaderSim) -> Iterator[SerialIdCardReader]:
    with SerialIdCardReader(open_line(sim.device, 115200), sim.device, reply_timeout_s=REPLY_TIMEOUT_S,
                            poll_s=0.05) as adapter:
        yield adapter
