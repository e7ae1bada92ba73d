"""The real card stack for end-to-end tests: a private pcscd with vpcd and the card emulator,
started once per session and stopped by PID. Skips only when pcscd or vpcd is not installed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from simulators.card.stack import CardStack, StackUnavailable, missing_parts

CARD_READER = "Virtual PCD 00 00"
PSAM_READER = "Virtual PCD 00 01"


class Stack(CardStack):
    """CardStack plus the waits the tests need."""

    def insert(self, persona: str, reader: object | None = None) -> None:
        if reader is not None:
            reader.end_session()  # type: ignore[attr-defined]
        self.ctl(f"INSERT {persona}")
        if reader is not None:
            assert reader.wait_for_card(5), f"{persona} did not show up in the reader"  # type: ignore[attr-defined]

    def remove(self, reader: object | None = None) -> None:
        self.ctl("REMOVE")
        if reader is not None:
            assert reader.wait_for_removal(5)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def card_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    problem = missing_parts()
    if problem:
        pytest.skip(problem)
    workdir: Path = tmp_path_factory.mktemp("card-stack")
    stack = Stack(workdir)
    try:
        stack.start()
    except StackUnavailable as exc:
        pytest.skip(str(exc))
    yield stack
    stack.stop()


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
