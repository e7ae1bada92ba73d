"""The technician's screens: the PIN prompt and the maintenance menu (diagnostics, sync queue,
logs, audit, settings, power). Pages come as data from kiosk/services/diagnostics.py."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.entry import _draw_error, _split
from kiosk.screens.settings import SettingsPanel
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button, Keypad
from kiosk.services.diagnostics import PAGES, Page
from kiosk.services.maintenance import PinResult

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)

STATE_COLORS = {"ok": "ok", "warn": "staff", "bad": "danger"}
_MESSAGE_ID = re.compile(r"(?<![\w.])[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+(?![\w.])")


class TechPinScreen(Screen):
    name = "tech_pin"
    technician = True
    title_key = "tech.pin_title"
    in_session = False

    def __init__(self, ui: UI, via: str) -> None:
        super().__init__(ui)
        self.via = via
        self.message = ""
        self.fields: dict[str, Any] = {}
        self.keypad: Keypad | None = None
        self.checking = False
        ui.maintenance.access.request(via)

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        self.info, pad = _split(area, th.portrait, th.margin)
        self.keypad = Keypad(self.ui, pad, 12)
        self.buttons += self.keypad.buttons
        nh = th.button_h
        self.buttons.append(Button(pygame.Rect(self.info.x, self.info.bottom - nh, self.info.width, nh),
                                   "tech.enter", self._submit, "primary", name="confirm"))

    def _submit(self) -> None:
        if self.checking or self.keypad is None or len(self.keypad.buffer) < 6:
            return
        pin = self.keypad.value
        self.keypad.wipe()
        self.checking = True
        # scrypt takes tens of milliseconds: never on the loop.
        self.ui.workers.submit("tech_pin", self.ui.maintenance.access.try_pin, pin, on_done=self._checked)

    def _checked(self, job: Any) -> None:
        self.checking = False
        outcome = job.result()
        if outcome.result is PinResult.OK:
            self.ui.show(MaintenanceScreen(self.ui, via=self.via), replace=True)
            return
        self.message = f"tech.pin_{outcome.result.value}"
        self.fields = {"n": outcome.attempts_left, "minutes": max(1, round(outcome.locked_for_s / 60))}

    def draw(self, surf: pygame.Surface) -> None:
        ui, th = self.ui, self.ui.theme
        assert self.keypad is not None, "layout() builds the keypad before anything is drawn"
        y = ui.draw_text(surf, "tech.pin_prompt", "body", COLORS["text"], self.info, 3, align="left")
        field = pygame.Rect(self.info.x, y + th.px(16), self.info.width, th.px(110))
        pygame.draw.rect(surf, COLORS["surface"], field, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["primary"], field, width=max(2, th.px(4)), border_radius=th.radius)
        dots = "●" * len(self.keypad.buffer)
        if dots:
            ui.text.blit(surf, dots, th.font_px("title"), COLORS["text"], role="title", box=field,
                         midleft=(field.x + th.px(24), field.centery))
        if self.message:
            box = pygame.Rect(self.info.x, field.bottom + th.px(20), self.info.width, th.px(220))
            _draw_error(ui, surf, box, self.message)
            if self.fields:
                ui.draw_text(surf, self.message + "_detail", "small", COLORS["danger"],
                             pygame.Rect(box.x, box.bottom + th.px(10), box.width, th.px(100)), 2,
                             align="left", **self.fields)
        super().draw(surf)


class MaintenanceScreen(Screen):
    name = "maintenance"
    technician = True
    title_key = "tech.menu_title"
    in_session = False
    offers_home = True  # its menu ends with 退出维护: the bottom bar adds no 返回首页

    def __init__(self, ui: UI, via: str = "gesture", page: str = "system") -> None:
        super().__init__(ui)
        self.via = via
        self.page_id = page
        self.page = Page(page, f"diag.page.{page}")  # an empty page until layout() loads it
        self.confirming: str | None = None
        self.scroll = 0
        self.last_touch = ui.clock.monotonic()
        self.settings = SettingsPanel(ui, self)
        self.refresh_s = 1.0
        self._refreshed = -1e9
        self.running: tuple[str, float] | None = None  # an action on a worker, and since when
        self.nav_buttons: list[Button] = []

    # ------------------------------------------------------------------ layout
    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        nav_w = th.px(500) if not th.portrait else area.width
        names = [*PAGES, "exit"]
        if th.portrait:  # nav as a grid of small buttons above the page
            cols, bh = 4, th.px(100)
            rows = (len(names) + cols - 1) // cols
            bw = (area.width - (cols - 1) * th.px(10)) // cols
            for i, name in enumerate(names):
                r, c = divmod(i, cols)
                self._nav(name, pygame.Rect(area.x + c * (bw + th.px(10)), area.y + r * (bh + th.px(10)), bw, bh))
            self.content = pygame.Rect(area.x, area.y + rows * (bh + th.px(10)) + th.px(10), area.width,
                                       area.height - rows * (bh + th.px(10)) - th.px(10))
        else:  # two columns of pages (one column of 13 left labels under the technician floor), exit below
            gap = th.px(8)
            rows = (len(PAGES) + 1) // 2 + 1
            bh, bw = (area.height - (rows - 1) * gap) // rows, (nav_w - gap) // 2
            for i, name in enumerate(PAGES):
                r, c = divmod(i, 2)
                self._nav(name, pygame.Rect(area.x + c * (bw + gap), area.y + r * (bh + gap), bw, bh))
            self._nav("exit", pygame.Rect(area.x, area.y + (rows - 1) * (bh + gap), nav_w, bh))
            self.content = pygame.Rect(area.x + nav_w + th.margin, area.y, area.width - nav_w - th.margin,
                                       area.height)
        self.nav_buttons = [b for b in self.buttons if b.name.startswith("nav-")]
        self._load_page()

    def _nav(self, name: str, rect: pygame.Rect) -> None:
        style = "danger" if name == "exit" else ("primary" if name == self.page_id else "secondary")
        self.buttons.append(Button(rect, f"diag.nav.{name}", partial(self.open, name), style,
                                   name=f"nav-{name}"))

    def open(self, page_id: str) -> None:
        if page_id == "exit":
            self.exit("button")
            return
        self.page_id, self.scroll, self.confirming = page_id, 0, None
        self.ui.maintenance.audit.append("maintenance_page", page=page_id)
        self.layout(self.area)

    def exit(self, why: str) -> None:
        self.ui.maintenance.audit.append("maintenance_exit", why=why)
        self.ui.go_home("maintenance_exit")

    def _load_page(self) -> None:
        self.page = self.ui.maintenance.diagnostics.page(self.page_id)
        self._refreshed = self.ui.clock.monotonic()
        # the menu's own buttons (a confirmation shows only its two, so they are kept aside here)
        self.buttons = list(self.nav_buttons)
        th, c = self.ui.theme, self.content
        if self.page_id == "settings":
            self.buttons += self.settings.layout(c)
            return
        actions = [a for a in self.page.actions]
        if actions:
            cols = min(len(actions), 4 if not th.portrait else 2)
            bh = th.button_h
            rows = (len(actions) + cols - 1) // cols
            bw = (c.width - (cols - 1) * th.px(12)) // cols
            top = c.bottom - rows * bh - (rows - 1) * th.px(12)
            for i, action in enumerate(actions):
                r, col = divmod(i, cols)
                rect = pygame.Rect(c.x + col * (bw + th.px(12)), top + r * (bh + th.px(12)), bw, bh)
                self.buttons.append(Button(rect, action.label, partial(self._action, action), "secondary",
                                           enabled=action.enabled and self.running is None, name=f"act-{action.id}"))
        if self.page.lines:
            sw = th.px(120)
            self.buttons.append(Button(pygame.Rect(c.right - sw, c.y, sw, th.button_h), "diag.scroll_up",
                                       lambda: self._scroll(-10), "secondary", name="scroll-up"))
            self.buttons.append(Button(pygame.Rect(c.right - sw, c.y + th.button_h + th.px(10), sw, th.button_h),
                                       "diag.scroll_down", lambda: self._scroll(10), "secondary", name="scroll-down"))
        if self.confirming:
            box = self._confirm_box()
            bw = (box.width - 3 * th.margin) // 2
            y = box.bottom - th.margin - th.button_h
            self.buttons = [
                Button(pygame.Rect(box.x + th.margin, y, bw, th.button_h), "diag.confirm_yes",
                       self._confirmed, "danger", name="confirm-yes"),
                Button(pygame.Rect(box.x + 2 * th.margin + bw, y, bw, th.button_h), "diag.confirm_no",
                       self._cancel_confirm, "secondary", name="confirm-no")]

    def _scroll(self, delta: int) -> None:
        self.scroll = max(0, self.scroll + delta)

    def _action(self, action: Any) -> None:
        if action.confirm:
            self.confirming = action.id
            self._load_page()
            return
        self._run(action.id)

    def _confirmed(self) -> None:
        action, self.confirming = self.confirming, None
        if action is not None:  # the confirm buttons exist only while an action awaits them
            self._run(action)
        self._load_page()

    def _cancel_confirm(self) -> None:
        self.ui.maintenance.audit.append("maintenance_action_cancelled", action=self.confirming)
        self.confirming = None
        self._load_page()

    def _run(self, action_id: str) -> None:
        diag = self.ui.maintenance.diagnostics
        self.running = (action_id, self.ui.clock.monotonic())
        self.ui.workers.submit(f"diag-{action_id}", diag.act, self.page_id, action_id, on_done=self._done)

    def _done(self, job: Any) -> None:
        self.running = None
        self._load_page()

    def _confirm_box(self) -> pygame.Rect:
        th, c = self.ui.theme, self.content
        return pygame.Rect(c.x + th.margin, c.y + th.px(80), c.width - 2 * th.margin, th.px(420))

    # ------------------------------------------------------------------ loop
    def update(self, now: float) -> None:
        mctx = self.ui.maintenance
        if self.ui.last_touch_at > self.last_touch:
            self.last_touch = self.ui.last_touch_at
        if self.running is None and now - self.last_touch >= self.ui.maintenance.idle_s():  # not mid-task
            self.exit("idle")
            return
        if self.via == "door" and not mctx.door_open():
            self.exit("door_closed")
            return
        if now - self._refreshed >= self.refresh_s and not self.confirming and self.page_id != "settings":
            self._load_page()  # live states (inputs, queue counts, logs)

    # ------------------------------------------------------------------ drawing
    def draw(self, surf: pygame.Surface) -> None:
        ui, th, c = self.ui, self.ui.theme, self.content
        y = ui.draw_text(surf, self.page.title, "title", COLORS["text"], pygame.Rect(c.x, c.y, c.width - th.px(140),
                         th.px(80)), 1, bold=True, align="left") + th.px(10)
        if self.page_id == "settings":
            super().draw(surf)
            self.settings.draw(surf, y)
            return
        label_w = int(c.width * 0.36)
        size = th.font_px("small")
        for row in self.page.rows:
            if row.literal:
                ui.draw_lines(surf, [row.label], size, COLORS["muted"], c.x, y, align="left")
            else:
                ui.draw_text(surf, row.label, "small", COLORS["muted"], pygame.Rect(c.x, y, label_w, size * 3),
                             2, align="left")
            color = COLORS[STATE_COLORS[row.state]] if row.state in STATE_COLORS else COLORS["text"]
            value_rect = pygame.Rect(c.x + label_w + th.px(16), y, c.width - label_w - th.px(16), size * 3)
            fit, lines = ui.text.fit(self._readable(row.value), size, value_rect.width, 2,
                                     height=4 * int(size * 1.25))  # a long value: more lines, not tiny
            y2 = ui.draw_lines(surf, lines, fit, color, value_rect.x, y, align="left")
            y = max(y2, y + int(size * 1.3)) + th.px(6)
        y = self._draw_note(surf, y)
        if self.page.preview is not None:
            self._draw_preview(surf, pygame.Rect(c.x, y, c.width, c.bottom - y - th.button_h - th.margin))
        if self.page.lines:
            self._draw_lines(surf, y)
        super().draw(surf)
        if self.confirming:
            box = self._confirm_box()
            pygame.draw.rect(surf, COLORS["surface"], box, border_radius=th.radius)
            pygame.draw.rect(surf, COLORS["danger"], box, width=max(2, th.px(4)), border_radius=th.radius)
            ui.draw_text(surf, f"diag.confirm.{self.confirming}", "body", COLORS["text"],
                         box.inflate(-2 * th.margin, -2 * th.margin), 3, bold=True)
            for b in self.buttons:
                b.draw(ui, surf)

    def _draw_note(self, surf: pygame.Surface, y: int) -> int:
        """The page's sentence for the technician (a stick task's outcome, or 'working' while an
        action runs), above the action buttons."""
        ui, th, c = self.ui, self.ui.theme, self.content
        fields: dict[str, Any] = {}
        if self.running is not None:
            key, fields, color = "diag.working", {"s": int(ui.clock.monotonic() - self.running[1])}, COLORS["text"]
        elif self.page.note:
            key, fields = self.page.note, self.page.note_fields
            color = COLORS[STATE_COLORS[self.page.note_state]] if self.page.note_state in STATE_COLORS \
                else COLORS["text"]
        else:
            return y
        tops = [b.rect.y for b in self.buttons if b.name.startswith("act-")]
        bottom = min(tops, default=c.bottom) - th.px(12)
        box = pygame.Rect(c.x, y + th.px(10), c.width, max(0, bottom - y - th.px(10)))
        lines = max(1, box.height // int(th.font_px("small") * 1.25))
        return ui.draw_text(surf, key, "small", color, box, min(lines, 5), align="left", **fields) + th.px(6)

    def _readable(self, value: str) -> str:
        """A value with the message ids it carries (a health reason) in words, as citizens see them."""
        return _MESSAGE_ID.sub(lambda m: self.ui.t(m.group()) if self.ui.translators[self.ui.lang].has(m.group())
                               else m.group(), value)

    def _draw_lines(self, surf: pygame.Surface, top: int) -> None:
        th, c = self.ui.theme, self.content
        size = max(self.ui.text.floor, th.font_px("small") * 2 // 3)  # denser, at the technician floor
        area = pygame.Rect(c.x, top, c.width - th.px(140), c.bottom - top - (th.button_h + th.margin
                           if self.page.actions else 0))
        below = [b.rect.y for b in self.buttons if b.rect.y > top and b.rect.x < area.right and b.rect.right > area.x]
        area.height = min(area.height, min(below, default=area.bottom) - th.px(8) - top)  # above the buttons
        per_page = max(1, area.height // int(size * 1.3))
        lines = list(self.page.lines)
        self.scroll = min(self.scroll, max(0, len(lines) - per_page))
        shown = lines[::-1][self.scroll:self.scroll + per_page] if self.page_id in ("logs",) else \
            lines[self.scroll:self.scroll + per_page]
        font = self.ui.text.font(size)
        y = area.y
        for full in shown:
            line = full
            while line and font.size(line)[0] > area.width:
                line = line[:-4] + "…"
            self.ui.text.blit(surf, line, size, COLORS["text"], role="log", box=area, topleft=(area.x, y))
            y += int(size * 1.3)

    def _draw_preview(self, surf: pygame.Surface, rect: pygame.Rect) -> None:
        frame = self.page.preview
        if rect.height <= 0:
            return
        img = pygame.surfarray.make_surface(frame.swapaxes(0, 1))
        scale = min(rect.width / img.get_width(), rect.height / img.get_height())
        img = pygame.transform.smoothscale(img, (int(img.get_width() * scale), int(img.get_height() * scale)))
        surf.blit(img, img.get_rect(midtop=rect.midtop))
