"""The settings page of the maintenance menu, generated from the config schema: every key a
technician may change, its value and layer; an editor fitted to the key's type."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import pygame

from kiosk import config
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl-", "zxcvbnm.:/")


def technician_keys() -> list[config.Key]:
    return [k for k in config.SCHEMA if k.technician and not k.secret]


def label_key(key: config.Key) -> str:
    return "setting." + key.name.replace(".", "_")


class SettingsPanel:
    def __init__(self, ui: UI, screen: Any) -> None:
        self.ui, self.screen = ui, screen
        self.selected: config.Key | None = None
        self.draft = ""
        self.message = ""
        self.upper = False
        self.rect = pygame.Rect(0, 0, 0, 0)

    def layout(self, rect: pygame.Rect) -> list[Button]:
        self.rect = rect
        th = self.ui.theme
        buttons: list[Button] = []
        keys = technician_keys()
        list_w = rect.width if self.selected is None else int(rect.width * 0.45)
        top = rect.y + th.px(170)
        gap = th.px(8)
        # a setting's name and, under it, its value at the least size (the page's text floor)
        rh = max(th.px(100), int(th.font_px("button") * 1.3) + int(th.floor_px * 1.25) + th.px(24))
        nav_h = th.px(90)
        per_page = max(1, (rect.bottom - top - nav_h - gap) // (rh + gap))
        pages = (len(keys) + per_page - 1) // per_page
        self.page = min(getattr(self, "page", 0), pages - 1)
        cfg = self.ui.maintenance.cfg()
        shown = keys[self.page * per_page:(self.page + 1) * per_page]
        for i, key in enumerate(shown):
            r = pygame.Rect(rect.x, top + i * (rh + gap), list_w, rh)
            style = "primary" if key is self.selected else "secondary"
            buttons.append(Button(r, label_key(key), partial(self.select, key), style, name=f"set-{key.name}",
                                  detail=f"{cfg[key.name]}   [{cfg.sources[key.name]}]"))
        if pages > 1:
            half = (list_w - gap) // 2
            y = rect.bottom - nav_h
            buttons.append(Button(pygame.Rect(rect.x, y, half, nav_h), "diag.scroll_up",
                                  lambda: self._page(-1), "secondary", enabled=self.page > 0, name="set-prev"))
            buttons.append(Button(pygame.Rect(rect.x + half + gap, y, half, nav_h), "diag.scroll_down",
                                  lambda: self._page(1), "secondary", enabled=self.page < pages - 1,
                                  name="set-next"))
        if self.selected is not None:
            buttons += self._editor(self.selected, pygame.Rect(rect.x + list_w + th.margin, top,
                                                               rect.width - list_w - th.margin,
                                                               rect.bottom - top))
        return buttons

    def _page(self, delta: int) -> None:
        self.page += delta
        self.screen._load_page()

    def find(self, name: str) -> None:
        """Turn to the page that holds a key (tests and deep links)."""
        keys = [k.name for k in technician_keys()]
        self.page = 0
        self.screen._load_page()
        while not any(b.name == f"set-{name}" for b in self.screen.buttons):
            if not any(b.name == "set-next" and b.enabled for b in self.screen.buttons) or name not in keys:
                raise KeyError(name)
            self._page(1)

    def select(self, key: config.Key) -> None:
        self.selected = key
        self.draft = str(self.ui.maintenance.cfg()[key.name])
        self.message = ""
        self.screen._load_page()

    def _editor(self, key: config.Key, area: pygame.Rect) -> list[Button]:
        th = self.ui.theme
        self.editor = area
        gap = th.px(8)
        buttons: list[Button] = []
        body_top = area.y + th.px(180)
        bottom_h = th.button_h
        if key.type is bool or key.choices:
            options = ["true", "false"] if key.type is bool else [str(c) for c in key.choices]
            bh = min(th.button_h, (area.bottom - body_top - bottom_h) // max(1, len(options)) - gap)
            for i, option in enumerate(options):
                r = pygame.Rect(area.x, body_top + i * (bh + gap), area.width, bh)
                buttons.append(Button(r, option, partial(self._set_draft, option),
                                      "primary" if self.draft.lower() == option else "key", literal=True,
                                      name=f"opt-{option}"))
        else:
            rows = ["1234567890", ".", ] if key.type in (int, float) else list(KEYBOARD_ROWS)
            if key.type in (int, float):
                rows = ["123", "456", "789", ".0"]
            kh = (area.bottom - body_top - bottom_h - gap * (len(rows) + 1)) // (len(rows) + 1)
            for r_i, row in enumerate(rows):
                kw = (area.width - gap * (len(row) - 1)) // len(row)
                for c_i, ch in enumerate(row):
                    shown = ch.upper() if self.upper else ch
                    r = pygame.Rect(area.x + c_i * (kw + gap), body_top + r_i * (kh + gap), kw, kh)
                    buttons.append(Button(r, shown, partial(self._type, shown), "key", literal=True,
                                          name=f"kb-{shown}"))
            y = body_top + len(rows) * (kh + gap)
            third = (area.width - 2 * gap) // 3
            buttons.append(Button(pygame.Rect(area.x, y, third, kh), "keypad.backspace", self._backspace,
                                  "secondary", name="kb-back"))
            buttons.append(Button(pygame.Rect(area.x + third + gap, y, third, kh), "keypad.clear",
                                  lambda: self._set_draft(""), "secondary", name="kb-clear"))
            if key.type is str:
                buttons.append(Button(pygame.Rect(area.x + 2 * (third + gap), y, third, kh), "settings.shift",
                                      self._shift, "secondary", name="kb-shift"))
        half = (area.width - gap) // 2
        buttons.append(Button(pygame.Rect(area.x, area.bottom - bottom_h, half, bottom_h), "settings.save",
                              self._save, "primary", name="settings-save"))
        buttons.append(Button(pygame.Rect(area.x + half + gap, area.bottom - bottom_h, half, bottom_h),
                              "settings.cancel", self._cancel, "secondary", name="settings-cancel"))
        return buttons

    def _set_draft(self, value: str) -> None:
        self.draft = value
        self.screen._load_page()

    def _type(self, ch: str) -> None:
        if len(self.draft) < 120:
            self.draft += ch

    def _backspace(self) -> None:
        self.draft = self.draft[:-1]

    def _shift(self) -> None:
        self.upper = not self.upper
        self.screen._load_page()

    def _cancel(self) -> None:
        self.selected, self.message = None, ""
        self.screen._load_page()

    def _save(self) -> None:
        if self.selected is None:  # the save button exists only while a key is being edited
            return
        self.message = self.ui.maintenance.save_setting(self.selected.name, self.draft)
        if self.message in ("settings.applied", "settings.after_restart"):
            self.selected = None
        self.screen._load_page()

    def draw(self, surf: pygame.Surface, top: int) -> None:
        ui, th = self.ui, self.ui.theme
        note = "settings.help" if not self.message else self.message
        color = COLORS["danger"] if self.message.startswith("settings.error") else COLORS["muted"]
        ui.draw_text(surf, note, "small", color, pygame.Rect(self.rect.x, top, self.rect.width, th.px(76)), 2,
                     align="left", detail=getattr(ui.maintenance, "last_error", ""))
        if self.selected is not None:
            ed = self.editor
            ui.draw_text(surf, label_key(self.selected), "body", COLORS["text"], pygame.Rect(ed.x, ed.y, ed.width,
                         th.px(60)), 1, bold=True, align="left")
            field = pygame.Rect(ed.x, ed.y + th.px(70), ed.width, th.px(96))
            pygame.draw.rect(surf, COLORS["surface"], field, border_radius=th.radius)
            pygame.draw.rect(surf, COLORS["primary"], field, width=max(2, th.px(3)), border_radius=th.radius)
            size, lines = ui.text.fit(self.draft or " ", th.font_px("body"), field.width - th.px(30), 1)
            ui.draw_lines(surf, lines[-1:], size, COLORS["text"], field.x + th.px(16),
                          field.centery - size * 5 // 8, align="left")
