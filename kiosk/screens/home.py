"""The home screen: one large tile per citizen service; a tile whose device is down is disabled
and says why in plain words."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.pictograms import DRAW
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

from kiosk.services.catalog import CARE_HOME, SERVICES, CareTile, ServiceSpec, availability


class HomeScreen(Screen):
    name = "home"
    title_key = "home.title"
    is_home = True
    in_session = False

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        if self.ui.sessions.care_mode:
            self._state = self._availability()
            self._care_layout(area)
            return
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

    @property
    def offers_staff(self) -> bool:  # type: ignore[override]
        return self.ui.sessions.care_mode  # the care home has call staff as a tile of its own

    def _care_layout(self, area: pygame.Rect) -> None:
        """长辈模式: four large tiles with pictograms for the most used services, and call staff."""
        th = self.ui.theme
        top = area.y + th.px(90)
        cols, rows = (2, 3) if th.portrait else (3, 2)
        gap = th.px(26)
        tw = (area.width - gap * (cols - 1)) // cols
        tile_h = (area.bottom - top - gap * (rows - 1)) // rows
        for i, tile in enumerate((*CARE_HOME, None)):
            r, c = divmod(i, cols)
            rect = pygame.Rect(area.x + c * (tw + gap), top + r * (tile_h + gap), tw, tile_h)
            if tile is None:  # call staff: where the eye ends, filling the last row
                rect.width = area.right - rect.x
                self.buttons.append(Button(rect, "staff.call", self.ui.call_staff, "staff", sublabel="care.staff.hint",
                                           name="tile-staff", icon=DRAW["staff"]))
                continue
            usable = [s for s in tile.specs() if self._state[s.id].available]
            reason = self._state[tile.specs()[0].id].reason if not usable else ""
            self.buttons.append(Button(rect, tile.title_key, partial(self.open_tile, tile), "secondary",
                                       enabled=bool(usable), sublabel=tile.hint_key if usable else reason,
                                       name=f"tile-{tile.id}", icon=DRAW[tile.pictogram]))

    def open_tile(self, tile: CareTile) -> None:
        specs = tile.specs()
        if len(specs) == 1:
            self.open(specs[0])
        else:
            self.ui.show(GroupScreen(self.ui, tile))

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


class GroupScreen(Screen):
    """The services of one care-mode tile, large, one question: which one?"""

    name = "group"

    def __init__(self, ui: UI, tile: CareTile) -> None:
        super().__init__(ui)
        self.tile, self.title_key = tile, tile.title_key

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        specs = self.tile.specs()
        top = area.y + th.px(100)
        cols = 1 if th.portrait else 2
        rows = math.ceil(len(specs) / cols)
        gap = th.px(22)
        tw = (area.width - gap * (cols - 1)) // cols
        tile_h = min(th.px(260), (area.bottom - top - gap * (rows - 1)) // rows)
        for i, spec in enumerate(specs):
            r, c = divmod(i, cols)
            avail = availability(spec, self.ui.health)
            rect = pygame.Rect(area.x + c * (tw + gap), top + r * (tile_h + gap), tw, tile_h)
            self.buttons.append(Button(rect, spec.title_key, partial(self.ui.flows.start, self.ui, spec), "secondary",
                                       enabled=avail.available,
                                       sublabel=spec.hint_key if avail.available else avail.reason,
                                       name=f"tile-{spec.id}"))

    def draw(self, surf: pygame.Surface) -> None:
        th = self.ui.theme
        self.ui.draw_text(surf, "care.group_prompt", "body", COLORS["text"],
                          pygame.Rect(self.area.x, self.area.y, self.area.width, th.px(90)), 2, align="left")
        super().draw(surf)
