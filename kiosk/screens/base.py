"""The screen contract: build widgets for an area, draw, take taps, update on the clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pygame

from kiosk.screens.widgets import Button, Keypad

if TYPE_CHECKING:
    from kiosk.screens.shell import UI


class Screen:
    """A full content area between the top and bottom bars."""

    name = "screen"
    title_key = "app.title"
    is_home = False
    in_session = True  # part of a citizen session: inactivity timeout applies
    in_flow = False  # shows a step of a running flow (kiosk.screens.flow_host)
    flow_indicator: tuple[int, int] | None = None  # step n of m, drawn in the top bar
    flow_back: Callable[[], None] | None = None  # going back is safe here: the bottom bar offers it
    flow_another: Callable[[], None] | None = None  # a result: another service, still identified
    offers_home = False  # the screen has its own "home" button: the bottom bar does not repeat it
    offers_staff = False  # the screen has its own "call staff" button: the bottom bar does not repeat it
    technician = False  # for a technician, not a citizen: its own text floor (Theme.technician_floor)
    own_countdown = False  # the screen shows its own countdown: the bottom bar does not add a second one

    def __init__(self, ui: UI) -> None:
        self.ui = ui
        self.buttons: list[Button] = []
        self.area = pygame.Rect(0, 0, 0, 0)

    def layout(self, area: pygame.Rect) -> None:
        """(Re)build widgets for this area; called on entry and on size/care-mode changes."""
        self.area = area
        self.buttons = []

    def draw(self, surf: pygame.Surface) -> None:
        for button in self.buttons:
            button.draw(self.ui, surf)

    def tap(self, pos: tuple[int, int]) -> bool:
        for button in self.buttons:
            if button.hit(pos):
                button.on_press()
                return True
        return False

    def button(self, name: str) -> Button:
        for b in self.buttons:
            if b.name == name:
                return b
        raise KeyError(name)

    def update(self, now: float) -> None:
        pass

    def release(self) -> None:
        """The screen has left the stack for good: drop what it holds. Its buttons' callbacks
        refer back to the screen (a cycle only a full garbage collection would find), so a left
        screen with its surfaces, frames and pictures would otherwise outlive its session.
        Buttons and keypads kept as attributes go too; screens that hold more (surfaces, a
        running check) extend this. layout() builds it all again should the screen be shown anew."""
        self.buttons = []
        for name, value in list(vars(self).items()):
            if isinstance(value, Keypad):
                value.release()
            if isinstance(value, (Button, Keypad)):
                setattr(self, name, None)
            elif isinstance(value, list) and value and all(isinstance(v, Button) for v in value):
                setattr(self, name, [])
