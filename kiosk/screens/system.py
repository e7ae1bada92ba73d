"""Screens the kiosk shows on its own: the failsafe apology, out of service, and a notice that a
service is not offered at this kiosk yet."""

from __future__ import annotations

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button


def _message(ui, surf: pygame.Surface, area: pygame.Rect, title: str, body: str, **fields) -> int:
    th = ui.theme
    box = area.inflate(-th.px(80), -th.px(40))
    y = ui.draw_text(surf, title, "title", COLORS["text"], box, 2, bold=True)
    return ui.draw_text(surf, body, "body", COLORS["text"],
                        pygame.Rect(box.x, y + th.px(30), box.width, box.height), 6, **fields)


class FailsafeScreen(Screen):
    name = "failsafe"
    title_key = "failsafe.bar"
    in_session = False

    def __init__(self, ui, until: float) -> None:
        super().__init__(ui)
        self.until = until

    def update(self, now: float) -> None:
        if now >= self.until:
            self.ui.go_home("failsafe")

    def draw(self, surf: pygame.Surface) -> None:
        _message(self.ui, surf, self.area, "failsafe.title", "failsafe.body")


class OutOfServiceScreen(Screen):
    name = "out_of_service"
    title_key = "oos.bar"
    is_home = True
    in_session = False

    def draw(self, surf: pygame.Surface) -> None:
        ui, th = self.ui, self.ui.theme
        y = _message(ui, surf, self.area, "oos.title", "oos.body")
        box = pygame.Rect(self.area.x + th.px(80), y + th.px(30), self.area.width - th.px(160), th.lines_h("body"))
        # whom to call, in plain words; which device is down is the technician's (maintenance, log)
        from kiosk.screens.home import hotline

        box.y = ui.draw_text(surf, "hall.hotline", "body", COLORS["text"], box, 1, bold=True,
                             hotline=hotline(ui)) + th.px(20)
        problem = ui.config_problem
        if problem:  # for the technician: which file, which key, what is wrong
            ui.draw_text(surf, "oos.config_error", "small", COLORS["muted"], box, 4, problem=problem)


class ServicePendingScreen(Screen):
    """Shown after identification for services whose flow this kiosk does not offer yet."""

    name = "service_pending"
    title_key = "pending.bar"

    def __init__(self, ui, service_title: str) -> None:
        super().__init__(ui)
        self.service_title = service_title

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        w = min(area.width, th.px(640))
        self.buttons.append(Button(pygame.Rect(area.centerx - w // 2, area.bottom - th.button_h, w,
                                               th.button_h), "nav.finish", lambda: self.ui.go_home("finish"),
                                   "primary", name="finish"))

    def draw(self, surf: pygame.Surface) -> None:
        _message(self.ui, surf, self.area, "pending.title", "pending.body",
                 service=self.ui.t(self.service_title))
        super().draw(surf)
