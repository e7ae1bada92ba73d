"""A scripted walk through the screens without a display: what `make run` does on a headless
machine. It drives the real UI, on the simulated devices `make run` started, with injected
touches and an injected clock, and saves a screenshot of each step. A step that cannot run
(a simulator missing) is reported and skipped; the walk goes on."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import pygame

from kiosk.config import Config
from kiosk.runtime.clock import FakeClock

log = logging.getLogger(__name__)

SAMPLE_ID = "11010519491231002X"  # a valid number from the GB 11643 examples, not a real person
SIM_CARD_PIN = "258147"  # the PIN of the card the card simulator holds at start (persona "activated")


class Walk:
    def __init__(self, ui: Any, clock: FakeClock, out: Path, refresh: Callable[[], None]) -> None:
        self.ui, self.clock, self.out, self.refresh = ui, clock, out, refresh
        self.shots: list[Path] = []
        self.skipped: list[str] = []

    def shot(self, name: str) -> None:
        self.ui.frame([])
        path = self.out / f"{len(self.shots) + 1:02d}-{name}.png"
        self.ui.screenshot(str(path))
        self.shots.append(path)

    def tap(self, name: str) -> None:
        for b in self.ui._tap_targets():
            if b.name == name and b.enabled:
                self.ui.tap(b.rect.center)
                self.ui.frame([])
                return
        raise LookupError(f"no button {name} on {self.ui.screen.name}")

    def type(self, text: str) -> None:
        for ch in text:
            self.tap(f"key-{ch}")

    def until(self, screen: str, timeout: float = 20.0) -> None:
        """Let worker threads (card, bureau, printer) finish in real time while the loop runs."""
        deadline = time.monotonic() + timeout
        while self.ui.screen.name != screen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited for {screen}, still on {self.ui.screen.name}")
            self.ui.frame([])
            time.sleep(0.02)

    def part(self, name: str, steps: Callable[[], None]) -> None:
        try:
            steps()
        except Exception as exc:  # a missing simulator must not end the walk
            log.warning("event=walkthrough_skipped part=%s reason=%r", name, exc)
            self.skipped.append(f"{name}: {exc}")
            self.shot(f"{name}-stopped-here")
        self.ui.go_home()


def walkthrough(cfg: Config, out: Path, size: tuple[int, int] = (1920, 1080)) -> list[Path]:
    from kiosk.app import build
    from kiosk.screens import flows

    pygame.font.init()
    out.mkdir(parents=True, exist_ok=True)
    clock = FakeClock()
    kiosk = build(cfg, pygame.Surface(size), clock=clock, start_monitor=False)
    ui = kiosk.ui
    walk = Walk(ui, clock, out, kiosk.health.refresh)

    def home() -> None:
        walk.shot("home-zh")
        walk.tap("lang")
        walk.shot("home-en")
        walk.tap("care")
        walk.shot("home-en-care-mode")
        walk.tap("care")
        walk.tap("lang")
        walk.tap("staff")
        walk.shot("call-staff")

    def id_keypad() -> None:
        ui.show(flows.IdEntryScreen(ui, lambda v: None))
        walk.type(SAMPLE_ID[:17] + "5")
        walk.shot("id-keypad-wrong-check-digit")
        walk.tap("key-back")
        walk.type("X")
        walk.shot("id-keypad-valid")
        clock.advance(cfg["session.inactivity_s"] + 1)
        walk.shot("inactivity-prompt")
        clock.advance(cfg["session.countdown_s"])
        walk.shot("timeout-back-home")

    def contributions() -> None:
        if not ui.health.get("reader") or not ui.health["reader"].usable:
            raise RuntimeError("card reader simulator not running")
        walk.tap("tile-payment_records")
        if ui.screen.name == "identify":
            walk.shot("identify-choice")
            walk.tap("choice-card")
        walk.until("pin_entry")
        walk.shot("card-pin")
        walk.type(SIM_CARD_PIN)
        walk.tap("confirm")
        walk.until("pick_insurance")
        walk.shot("pick-insurance")
        walk.tap("choice-pension")
        walk.until("pick_year")
        walk.shot("pick-year")
        year = ui.screen.choices[1].value
        walk.tap(f"choice-{year}")
        walk.until("records", timeout=30)
        walk.shot("contributions-table")

    def maintenance() -> None:
        for _ in range(cfg["maintenance.gesture_taps"]):
            ui.tap((10, 10))
            clock.advance(0.2)
        walk.shot("technician-pin")

    kiosk.health.refresh()
    try:
        for name, steps in (("home", home), ("id-keypad", id_keypad), ("contributions", contributions),
                            ("maintenance", maintenance)):
            walk.part(name, steps)
    finally:
        kiosk.close()
    for line in walk.skipped:
        print(f"walkthrough: skipped {line}")
    return walk.shots
