"""Touch widgets: buttons, tiles and keypads. They hold message ids, not text, so a language
switch redraws them in the other language without rebuilding anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.screens.theme import COLORS

if TYPE_CHECKING:
    from kiosk.screens.shell import UI


@dataclass
class Button:
    rect: pygame.Rect
    label: str  # message id
    on_press: Callable[[], None]
    style: str = "primary"  # primary | secondary | danger | staff | ok | key
    enabled: bool = True
    fields: dict[str, Any] = field(default_factory=dict)
    sublabel: str = ""  # message id shown smaller under the label (e.g. why it is disabled)
    literal: bool = False  # label is not a message id (a digit on a keypad)
    name: str = ""  # stable name for tests
    detail: str = ""  # literal second line (a setting's current value), when there is no sublabel
    # draws a pictogram in the upper part of the tile (care mode); the words go under it
    icon: Callable[[pygame.Surface, pygame.Rect, tuple[int, int, int]], None] | None = None

    def hit(self, pos: tuple[int, int]) -> bool:
        return self.enabled and self.rect.collidepoint(pos)

    def draw(self, ui: UI, surf: pygame.Surface) -> None:
        th = ui.theme
        if not self.enabled:
            bg, fg, border = COLORS["disabled"], COLORS["on_disabled"], COLORS["tile_border"]
        elif self.style in ("secondary", "key"):
            bg, fg, border = COLORS["surface"], COLORS["text"], COLORS["tile_border"]
        else:
            bg = COLORS[self.style]
            fg, border = COLORS[f"on_{self.style}"], bg
        pygame.draw.rect(surf, bg, self.rect, border_radius=th.radius)
        pygame.draw.rect(surf, border, self.rect, width=max(2, th.px(3)), border_radius=th.radius)
        text = self.label if self.literal else ui.t(self.label, **self.fields)
        role = "key" if self.style == "key" else "button"
        size = th.font_px(role)
        inner = self.rect.inflate(-2 * th.px(16), -2 * th.px(10))
        box = self.rect.inflate(-2 * max(2, th.px(3)), -2 * max(2, th.px(3)))  # inside the border
        if ui.text.log is not None:
            ui.text.log.widgets.append((pygame.Rect(self.rect), ui.text.log.layer))
        if self.icon is not None:
            art = pygame.Rect(inner.x, inner.y + th.px(10), inner.width, int(inner.height * 0.42))
            self.icon(surf, art, fg)
            inner = pygame.Rect(inner.x, art.bottom + th.px(8), inner.width, inner.bottom - art.bottom - th.px(8))
        if self.sublabel or self.detail:
            sub = ui.t(self.sublabel, **self.fields) if self.sublabel else self.detail  # same fields as the label
            # the label on one line if it can, on two at the least size rather than smaller;
            # the words under it in what is left
            size, lines = ui.text.fit(text, size, inner.width, 1, bold=True,
                                      height=inner.height - int(ui.text.floor * 1.25))
            label_h = (len(lines) - 1) * int(size * 1.25) + int(size * 1.3)
            sub_size, sub_lines = ui.text.fit(sub, th.font_px("small"), inner.width, 2,
                                              height=inner.height - label_h)
            sub_h = len(sub_lines) * int(sub_size * 1.25)
            top = inner.centery - (label_h + sub_h) // 2
            ui.draw_lines(surf, lines, size, fg, inner.centerx, top, bold=True, role=role, box=box)
            ui.draw_lines(surf, sub_lines, sub_size, fg, inner.centerx, top + label_h, role="small", box=box)
        else:
            size, lines = ui.text.fit(text, size, inner.width, 2, bold=True, height=inner.height)
            h = len(lines) * int(size * 1.25)
            ui.draw_lines(surf, lines, size, fg, inner.centerx, inner.centery - h // 2, bold=True, role=role, box=box)


class Keypad:
    """A digit pad (optionally with X) that types into a bytearray registered for wiping."""

    def __init__(self, ui: UI, rect: pygame.Rect, max_len: int, with_x: bool = False,
                 on_change: Callable[[], None] | None = None, scrambled: bool = False,
                 order: list[str] | None = None) -> None:
        self.ui, self.rect, self.max_len, self.with_x = ui, rect, max_len, with_x
        self.buffer = bytearray()
        self.on_change = on_change
        ui.register_wipe(self.wipe)
        gap = ui.theme.px(14)
        digits = order or list("1234567890")
        if scrambled and order is None:
            # A PIN pad shuffles its digits each time, so shoulder-surfing the finger gives nothing.
            import secrets

            digits = list("1234567890")
            for i in range(len(digits) - 1, 0, -1):
                j = secrets.randbelow(i + 1)
                digits[i], digits[j] = digits[j], digits[i]
        self.order = digits
        rows = [digits[0:3], digits[3:6], digits[6:9], ["X" if with_x else "clear", digits[9], "back"]]
        cols = 3
        kw = (rect.width - gap * (cols - 1)) // cols
        kh = (rect.height - gap * (len(rows) - 1)) // len(rows)
        self.buttons: list[Button] = []
        for r, row in enumerate(rows):
            for c, key in enumerate(row):
                kr = pygame.Rect(rect.x + c * (kw + gap), rect.y + r * (kh + gap), kw, kh)
                if key == "back":
                    b = Button(kr, "keypad.backspace", self.backspace, "secondary", name="key-back")
                elif key == "clear":
                    b = Button(kr, "keypad.clear", self.clear, "secondary", name="key-clear")
                else:
                    b = Button(kr, key, partial(self.press, key), "key", literal=True, name=f"key-{key}")
                self.buttons.append(b)

    @property
    def value(self) -> str:
        return self.buffer.decode("ascii")

    def press(self, key: str) -> None:
        if len(self.buffer) < self.max_len:
            self.buffer += key.encode("ascii")
            self._changed()

    def backspace(self) -> None:
        if self.buffer:
            self.buffer[-1:] = b"\0"
            del self.buffer[-1:]
            self._changed()

    def clear(self) -> None:
        self.wipe()
        self._changed()

    def wipe(self) -> None:
        self.buffer[:] = b"\0" * len(self.buffer)
        del self.buffer[:]

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    def release(self) -> None:
        """Its screen has left: the keys (which call back into the pad) and on_change (which
        calls into the screen) go, so neither outlives it in a reference cycle."""
        self.buttons = []
        self.on_change = None
