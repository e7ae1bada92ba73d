"""The home screen: one large tile per citizen service; a tile whose device is down is disabled
and says why in plain words."""

from __future__ import annotations

import math
from functools import partial

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button
from kiosk.services.catalog import SERVICES, ServiceSpec, availability


class HomeScreen(Screen):
    name = "home"
    title_key = "home.title"
    is_home = True
    in_session = False

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        greet_h = th.px(90)
        cols = 2 if th.portrait else (4 if area.width >= area.height * 1.2 else 3)
        rows = math.ceil(len(SERVICES) / cols)
        gap = th.px(22)
        top = area.y + greet_h
        tw = (area.width - gap * (cols - 1)) // cols
        tile_h = (area.bottom - top - gap * (rows - 1)) // rows
        self._state = self._availability()
        for i, spec in enumerate(SERVICES):
            r, c = divmod(i, cols)
            rect = pygame.Rect(area.x + c * (tw + gap), top + r * (tile_h + gap), tw, tile_h)
            avail = self._state[spec.id]
            self.buttons.append(Button(
                rect, spec.title_key, partial(self.open, spec), "secondary",
                enabled=avail.available,
                sublabel=spec.hint_key if avail.available else avail.reason, name=f"tile-{spec.id}"))

    def _availability(self) -> dict:
        return {s.id: availability(s, self.ui.health) for s in SERVICES}

    def open(self, spec: ServiceSpec) -> None:
        self.ui.flows.start(self.ui, spec)

    def update(self, now: float) -> None:
        if self._availability() != self._state:
            self.layout(self.area)  # a device came or went: re-enable or disable tiles

    def draw(self, surf: pygame.Surface) -> None:
        th = self.ui.theme
        greet = pygame.Rect(self.area.x, self.area.y + th.px(6), self.area.width, th.px(80))
        self.ui.draw_text(surf, "home.greeting", "body", COLORS["text"], greet, 1, align="left")
        super().draw(surf)
