"""The real card stack for end-to-end tests: a private pcscd with vpcd and the card emulator,
started once per session and stopped by PID. Skips only when pcscd or vpcd is not installed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import CARD_READER, PSAM_READER, Stack  # noqa: F401  (card_stack lives there too)


@pytest.fixture
def stack(card_stack: Stack) -> Iterator[Stack]:
    """Per test: the stack with every card state back to the data files and no stall."""
    if card_stack.pcscd is None:  # a test that stopped pcscd and failed before restarting it
        card_stack.start_pcscd()
    card_stack.ctl("RESET-STATE")
    card_stack.ctl("PSAM good")
    yield card_stack
    card_stack.ctl("PSAM good")
    card_stack.ctl("DELAY 0")


@pytest.fixture
def reader(stack: Stack) -> Iterator[object]:
    from kiosk.hw.reader_pcsc import PcscReader

    r = PcscReader(CARD_READER, exchange_timeout_s=2.0)
    yield r
    r.close()


def wait_until(cond, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False
