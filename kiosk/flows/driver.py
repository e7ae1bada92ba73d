"""The headless driver: runs a flow to its outcome with no screen and no pygame, answering each
ask from a script, running each Work on a thread with its timeout. Tests use it against the real
simulators; it records every step the flow took."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.flows.base import Flow
from kiosk.flows.runner import FlowRunner
from kiosk.flows.steps import Ask, CheckLiveness, Outcome, Step, Work

Answer = Callable[[Ask], Any]


class Back:
    """Answer an ask with Back (the driver presses the back button instead of answering)."""


BACK = Back()


def run_work(work: Work, on_done: Callable[[Any, BaseException | None], None]) -> Callable[[], None]:
    """Run on a thread, wait for it (its timeout plus a margin), report on the caller's thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work.fn()
        except BaseException as exc:  # handed to the flow, as the UI's workers do
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"flow-{work.name}", daemon=True)
    thread.start()
    if isinstance(work, CheckLiveness):
        _show_cues(work, thread)
    thread.join(work.timeout_s + 5)
    if thread.is_alive():
        return lambda: None  # left running: the runner's tick abandons it
    on_done(box.get("result"), box.get("error"))
    return lambda: None


def _show_cues(work: CheckLiveness, thread: threading.Thread) -> None:
    """What the liveness screen does: each cue is shown (and so reaches the camera) as it comes."""
    check = work.check
    assert check is not None, "a liveness step without its check"
    deadline = time.monotonic() + work.timeout_s + 5
    while thread.is_alive() and time.monotonic() < deadline:
        for event in check.poll():
            if event.kind == "cue":
                check.shown(event)
        thread.join(0.005)


@dataclass
class Run:
    outcome: Outcome
    steps: list[Step] = field(default_factory=list)
    receipt_note: str = ""
    runner: FlowRunner | None = None

    def names(self) -> list[str]:
        return [getattr(s, "name", "") or s.then for s in self.steps]

    def kinds(self) -> list[str]:
        return [type(s).__name__ for s in self.steps]


def drive(flow: Flow, answer: Answer, max_steps: int = 60,
          before_work: Callable[[Work], None] = lambda work: None) -> Run:
    """Run `flow` until it ends; `answer(ask)` gives the citizen's answer (or BACK);
    `before_work(work)` acts as the citizen does while work waits (swaps a card, say)."""
    seen: list[Step] = []

    def execute(work: Work, on_done: Callable[[Any, BaseException | None], None]) -> Callable[[], None]:
        before_work(work)
        return run_work(work, on_done)

    runner = FlowRunner(flow, execute, time.monotonic, on_change=lambda r: _record(r, seen))
    runner.start()
    for _ in range(max_steps):
        current = runner.current
        if isinstance(current, Outcome):
            return Run(current, seen, runner.receipt_note, runner)
        if isinstance(current, Work):
            runner.tick(time.monotonic() + current.timeout_s + 1)  # it outlived its timeout
            continue
        assert isinstance(current, Ask), current
        reply = answer(current)
        if isinstance(reply, Back):
            assert runner.back(), f"back refused at {current}"
        else:
            runner.answer(reply)
    raise AssertionError(f"flow did not end in {max_steps} steps: {[type(s).__name__ for s in seen]}")


def _record(runner: FlowRunner, seen: list[Step]) -> None:
    if isinstance(runner.current, Step):
        seen.append(runner.current)
