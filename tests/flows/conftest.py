"""Flows driven headless (no pygame) against the real simulators: the card emulator over PC/SC,
the bureau over mutual TLS behind the real sync daemon, the printer over TCP."""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kiosk import config
from kiosk.flows import Context, Flow
from kiosk.flows.driver import Answer, Run, drive
from kiosk.flows.steps import Ask, AskChoice, AskConfirm, AskConsent, AskIdNumber, AskName, AskPictures, AskPin
from kiosk.services.desk import Desk
from tests.conftest import CARD_READER, PSAM_READER
from tests.e2e.conftest import Sims, sims  # noqa: F401  (the simulators, shared with the e2e tests)


@dataclass
class Counter:
    """The kiosk's desk over the simulators, and a way to run a flow on it."""

    sims: Sims
    desk: Desk
    remembered: dict[str, Any]

    wipers: list[Callable[[], None]] = field(default_factory=list)
    inserted: bool = False

    def run(self, flow_cls: type[Flow], answer: Answer, before_work: Callable[[Any], None] = lambda w: None,
            **ctx: Any) -> Run:
        context = Context(self.desk, remember=self.remembered.__setitem__, on_wipe=self.wipers.append, **ctx)
        try:
            return drive(flow_cls(context), answer, before_work=before_work)
        finally:  # the session ends with the flow: what it asked to be wiped is wiped
            for wipe in self.wipers:
                wipe()
            self.wipers.clear()

    def insert(self, persona: str) -> None:
        self.sims.card.ctl(f"INSERT {persona}")
        self.inserted = True
        settle(self.desk, present=True)  # pcscd polls every 400 ms: until it sees the card


@pytest.fixture
def counter(sims: Sims) -> Iterator[Counter]:  # noqa: F811
    from kiosk.hw.registry import open_devices
    from kiosk.services.container import build_services

    env = {**sims.env, "KIOSK_READER": "sim", "KIOSK_CARD_READER_NAME": CARD_READER,
           "KIOSK_CARD_PSAM_READER_NAME": PSAM_READER, "KIOSK_PRINTER": f"tcp:127.0.0.1:{sims.printer.port}",
           "KIOSK_GPIO": "mock", "KIOSK_CAMERA": "synthetic:realtime=0", "KIOSK_CONFIG": ""}
    cfg = config.load(None, environ=env)
    devices = open_devices(cfg)
    services = build_services(cfg, devices)
    deadline = time.monotonic() + 20
    while not services.sync.status(timeout=1.0).online:  # the daemon has reached the bureau
        assert time.monotonic() < deadline, "bureau not reached"
        time.sleep(0.2)
    with without_pygame():
        counter = Counter(sims, Desk(services), {})
        yield counter
    if counter.inserted or counter.desk.card_present():
        sims.card.ctl("REMOVE")
        settle(counter.desk, present=False)  # the next test must not meet this card
    sims.card.ctl("RESET-STATE")
    services.outbox.close()
    devices.close()


def settle(desk: Desk, present: bool, timeout_s: float = 3.0) -> None:
    """Until pcscd reports the card in (or out): the reader polls every 400 ms."""
    deadline = time.monotonic() + timeout_s
    while desk.card_present() != present:
        assert time.monotonic() < deadline, f"pcscd never saw the card {'in' if present else 'out'}"
        time.sleep(0.05)
    if not present:
        desk.end_card()


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.split(".")[0] == "pygame" or name.startswith("kiosk.screens"):
            raise ImportError(f"a flow imported {name}: flows never import pygame or screens")


@contextlib.contextmanager
def without_pygame() -> Iterator[None]:
    """While a flow runs, pygame and the screens cannot be imported (other tests of the same
    process may have imported them: they are hidden, and put back afterwards)."""
    hidden = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "pygame" or n.startswith("kiosk.screens")}
    for name in hidden:
        del sys.modules[name]
    refuse = _Refuse()
    sys.meta_path.insert(0, refuse)
    try:
        yield
    finally:
        sys.meta_path.remove(refuse)
        sys.modules.update(hidden)


def script(*answers: tuple[Callable[[Ask], bool], Any]) -> Answer:
    """Answers in order: each (test, value); the test must match the ask it answers."""
    queue = list(answers)

    def answer(ask: Ask) -> Any:
        assert queue, f"no answer left for {ask}"
        test, value = queue.pop(0)
        assert test(ask), f"unexpected ask {ask}"
        if callable(value):  # worked out when asked (and what the citizen does meanwhile)
            value = value(ask)
        return bytearray(value.encode()) if isinstance(ask, AskPin) else value

    return answer


def pin(title: str = "", problem: str = "") -> Callable[[Ask], bool]:
    return lambda a: isinstance(a, AskPin) and (not title or a.title == title) and a.problem == problem


def choice(name: str) -> Callable[[Ask], bool]:
    return lambda a: isinstance(a, AskChoice) and a.name == name


def confirm(name: str) -> Callable[[Ask], bool]:
    return lambda a: isinstance(a, AskConfirm) and a.name == name


def kind(cls: type) -> Callable[[Ask], bool]:
    return lambda a: isinstance(a, cls)


__all__ = ["AskConsent", "AskIdNumber", "AskName", "AskPictures", "choice", "confirm", "kind", "pin", "script"]
