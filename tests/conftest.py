"""Shared test set-up: no screen, no sound card; artifacts under out/."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.card.stack import CardStack, StackUnavailable, missing_parts

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "out" / "test-artifacts"


# The card stack (one pcscd per machine): shared by tests/card and tests/e2e.
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


def _unavailable(why: str) -> None:
    """On a developer's machine a missing card stack skips; in CI (bootstrap installs it) it fails."""
    if os.environ.get("CI"):
        pytest.fail(f"the card stack must run in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def card_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    problem = missing_parts()
    if problem:
        _unavailable(problem)
    workdir: Path = tmp_path_factory.mktemp("card-stack")
    stack = Stack(workdir)
    try:
        stack.start()
    except StackUnavailable as exc:
        _unavailable(str(exc))
    _RUNNING.append(stack)
    yield stack
    _RUNNING.remove(stack)
    stack.stop()


_RUNNING: list[Stack] = []


@contextlib.contextmanager
def card_stack_paused() -> Iterator[None]:
    """For a test that starts its own pcscd (`make run`): the session's stack steps aside, since
    only one pcscd runs per machine, and comes back afterwards for the tests that follow."""
    paused = list(_RUNNING)
    for stack in paused:
        stack.stop()
    try:
        yield
    finally:
        for stack in paused:
            stack.start()


