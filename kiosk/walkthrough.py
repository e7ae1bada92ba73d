"""A scripted walk through the screens without a display: what `make run` does on a headless
machine. It drives the real UI with injected touches and an injected clock, and saves a
screenshot of each step."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pygame

from kiosk.config import Config
from kiosk.domain import citizen_id
from kiosk.runtime.clock import FakeClock

log = logging.getLogger(__name__)

SAMPLE_ID = "11010519491231002X"  # a valid number from the GB 11643 examples, not a real person


def type_on_keypad(ui: Any, text: str) -> None:
    for ch in text:
        ui.tap(ui.screen.button(f"key-{ch}").rect.center)
        ui.frame([])


def walkthrough(cfg: Config, out: Path, size: tuple[int, int] = (1920, 1080)) -> list[Path]:
    from kiosk.app import build
    from kiosk.screens import flows

    pygame.font.init()
    out.mkdir(parents=True, exist_ok=True)
    clock = FakeClock()
    surface = pygame.Surface(size)
    kiosk = build(cfg, surface, clock=clock, start_monitor=False)
    ui = kiosk.ui
    shots: list[Path] = []

    def shot(name: str) -> None:
        ui.frame([])
        path = out / f"{len(shots) + 1:02d}-{name}.png"
        ui.screenshot(str(path))
        shots.append(path)

    try:
        shot("home-zh")
        ui.tap(ui.bar_buttons[0].rect.center)  # language
        shot("home-en")
        ui.tap(ui.bar_buttons[0].rect.center)
        ui.go_home()
        tiles = [b for b in ui.screen.buttons if b.enabled] if isinstance(ui.screen, flows.HomeScreen) else []
        if tiles:
            ui.tap(tiles[0].rect.center)
        else:  # every tile needs a device that is down: show the entry screen directly
            ui.show(flows.IdEntryScreen(ui, lambda v: None))
        shot("id-entry-empty")
        type_on_keypad(ui, SAMPLE_ID[:17] + ("0" if SAMPLE_ID[17] != "0" else "1"))
        shot("id-entry-wrong-check-digit")
        ui.tap(ui.screen.button("key-back").rect.center)
        type_on_keypad(ui, SAMPLE_ID[17])
        assert citizen_id.is_valid(ui.screen.keypad.value)
        shot("id-entry-valid")
        ui.tap(ui.bar_buttons[1].rect.center)  # care mode
        shot("id-entry-care-mode")
        ui.tap(ui.bar_buttons[1].rect.center)
        ui.tap(ui.screen.button("confirm").rect.center)
        shot("after-identification")
        ui.tap(ui.bar_buttons[2].rect.center)  # call staff
        shot("call-staff")
        clock.advance(cfg["session.inactivity_s"] + 1)
        shot("inactivity-prompt")
        clock.advance(cfg["session.countdown_s"])
        shot("timeout-home")
        ui.show(flows.PinEntryScreen(ui, lambda pin: None, attempts_left=2))
        type_on_keypad(ui, "1234")
        shot("pin-entry")
        ui.go_home()
    finally:
        kiosk.close()
    return shots
