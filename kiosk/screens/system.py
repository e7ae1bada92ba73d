"""Screens the kiosk shows on its own: the failsafe apology, out of service, and a notice that a
service is not offered at this kiosk yet."""

from __future__ import annotations

from typing import Any

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

    def __init__(self, ui) -> None:
        super().__init__(ui)
        self._polled = -1e9

    def update(self, now: float) -> None:
        # With simulated devices nothing mounts a stick: a folder with a bundle put in starts the
        # provisioning here, as the stick's mount unit does on the appliance.
        prov = self.ui.provisioning
        if prov is None or now - self._polled < 1.0:
            return
        self._polled = now
        if prov.due():
            self.ui.workers.submit("provision", prov.run_inline)

    def draw(self, surf: pygame.Surface) -> None:
        ui, th = self.ui, self.ui.theme
        note = self._provision_note()
        if not ui.config_problem and (ui.unprovisioned or (note is not None and note.key == "provisioned")):
            self._draw_provisioning(surf)
            return
        y = _message(ui, surf, self.area, "oos.title", "oos.body")
        box = pygame.Rect(self.area.x + th.px(80), y + th.px(30), self.area.width - th.px(160), th.lines_h("body"))
        # whom to call, in plain words; which device is down is the technician's (maintenance, log)
        from kiosk.screens.home import hotline

        box.y = ui.draw_text(surf, "hall.hotline", "body", COLORS["text"], box, 1, bold=True,
                             hotline=hotline(ui)) + th.px(20)
        problem = ui.config_problem
        if problem:  # for the technician: which file, which key, what is wrong (before provisioning)
            ui.draw_text(surf, "oos.config_error", "small", COLORS["muted"], box, 4, problem=problem)

    def _provision_note(self):
        """The provisioning task's last word (kiosk/services/stick_provision.py), if it has one."""
        prov = self.ui.provisioning
        return prov.last() if prov is not None else None

    def _draw_provisioning(self, surf: pygame.Surface) -> None:
        """An unprovisioned kiosk: a line for citizens, then what the technician does next, from
        'put the stick in' to 'provisioned' or why the stick was refused and what to do."""
        ui, th = self.ui, self.ui.theme
        out = self._provision_note()
        box = self.area.inflate(-th.px(80), -th.px(40))
        y = ui.draw_text(surf, "oos.title", "title", COLORS["text"], box, 1, bold=True)
        y = ui.draw_text(surf, "oos.provision.citizens", "body", COLORS["text"],
                         pygame.Rect(box.x, y + th.px(16), box.width, th.lines_h("body", 3)), 3)
        panel = pygame.Rect(box.x, y + th.px(24), box.width, box.bottom - y - th.px(24))
        pygame.draw.rect(surf, COLORS["surface"], panel, border_radius=th.radius)
        inner = panel.inflate(-2 * th.px(28), -2 * th.px(20))
        y = ui.draw_text(surf, "oos.provision.lead", "body", COLORS["text"], inner, 1, bold=True,
                         align="left") + th.px(10)
        fields: dict[str, Any] = {}
        if out is None or out.key == "no_stick":
            key, color = "oos.provision.insert", COLORS["text"]
        elif out.key == "provision_working":
            key, color = "oos.provision.working", COLORS["text"]
        else:
            key, fields = f"stick.result.{out.key}", dict(out.fields)
            color = COLORS["ok"] if out.ok else COLORS["danger"]
        if not ui.translators[ui.lang].has(key):
            key = "stick.result.failed"
        rest = pygame.Rect(inner.x, y, inner.width, inner.bottom - y)
        y = ui.draw_text(surf, key, "body", color, rest, max(1, rest.height // int(th.font_px("body") * 1.3)) - 1,
                         align="left", **fields)
        if out is not None and not out.ok and out.detail:  # the command's own line, for the help desk
            from kiosk.services.pages import plain

            rect = pygame.Rect(inner.x, y + th.px(10), inner.width, inner.bottom - y - th.px(10))
            lines = rect.height // int(th.font_px("small") * 1.3)
            text = ui.t("oos.provision.detail", detail=plain(out.detail))
            size, _ = ui.text.fit(text, th.font_px("small"), rect.width, max(1, lines), height=rect.height)
            if lines >= 1 and size >= th.floor_px:  # no room left (large text): the words above suffice
                ui.draw_text(surf, "oos.provision.detail", "small", COLORS["muted"], rect, lines, align="left",
                             detail=plain(out.detail))


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
