"""Screens every citizen flow reuses: wait with progress, choose, message with a way forward.
The screens that end a flow (result, table, timeline) are in kiosk/screens/outcome.py."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button

if TYPE_CHECKING:
    from kiosk.screens.shell import UI


@dataclass(frozen=True)
class Choice:
    key: str  # message id of the option
    value: Any
    hint: str = ""  # message id under it
    enabled: bool = True
    fields: dict = field(default_factory=dict)


class ChoiceScreen(Screen):
    """A question and a few large options (insurance kind, year, where you live, outlet)."""

    name = "choice"

    def __init__(self, ui: UI, title: str, prompt: str, choices: Sequence[Choice],
                 on_choice: Callable[[Any], None], columns: int = 2, name: str = "choice") -> None:
        super().__init__(ui)
        self.title_key, self.prompt, self.choices = title, prompt, list(choices)
        self.on_choice, self.columns, self.name = on_choice, columns, name

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        top = area.y + self._prompt_h() + th.px(10)
        cols = 1 if th.portrait and len(self.choices) <= 4 else self.columns
        rows = math.ceil(len(self.choices) / cols)
        gap = th.px(20)
        bw = (area.width - gap * (cols - 1)) // cols
        need = int(th.font_px("button") * 1.3) + th.lines_h("small", 2) + th.px(30)  # the option, 2 lines under it
        bh = min(max(th.px(200), need), (area.bottom - top - gap * (rows - 1)) // max(1, rows))
        for i, choice in enumerate(self.choices):
            r, c = divmod(i, cols)
            rect = pygame.Rect(area.x + c * (bw + gap), top + r * (bh + gap), bw, bh)
            self.buttons.append(Button(rect, choice.key, partial(self.on_choice, choice.value), "secondary",
                                       enabled=choice.enabled, sublabel=choice.hint, fields=choice.fields,
                                       name=f"choice-{choice.value}"))

    def _prompt_h(self) -> int:
        return max(self.ui.theme.px(100), self.ui.theme.lines_h("body", 2))

    def draw(self, surf: pygame.Surface) -> None:
        self.ui.draw_text(surf, self.prompt, "body", COLORS["text"],
                          pygame.Rect(self.area.x, self.area.y, self.area.width, self._prompt_h()), 2, align="left")
        super().draw(surf)


class WaitScreen(Screen):
    """A long step: a moving progress mark, what is happening, and how long at most."""

    name = "wait"

    def __init__(self, ui: UI, title: str, message: str, timeout_s: float,
                 on_timeout: Callable[[], None], name: str = "wait") -> None:
        super().__init__(ui)
        self.title_key, self.message, self.name = title, message, name
        self.started = ui.clock.monotonic()
        self.timeout_s, self.on_timeout = timeout_s, on_timeout
        self.fired = False

    def update(self, now: float) -> None:
        if not self.fired and now - self.started >= self.timeout_s:
            self.fired = True
            self.on_timeout()

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        now = ui.clock.monotonic()
        cx, cy, r = a.centerx, a.y + th.px(200), th.px(70)
        pygame.draw.circle(surf, COLORS["disabled"], (cx, cy), r, th.px(14))
        angle = (now - self.started) * 4.0
        for k in range(4):  # a turning arc: motion says "working" without relying on colour
            a0 = angle + k * 0.25
            pygame.draw.arc(surf, COLORS["primary"], (cx - r, cy - r, 2 * r, 2 * r), a0, a0 + 0.2, th.px(14))
        y = ui.draw_text(surf, self.message, "title", COLORS["text"],
                         pygame.Rect(a.x, cy + r + th.px(40), a.width, th.px(200)), 2, bold=True)
        left = max(0, math.ceil(self.timeout_s - (now - self.started)))
        ui.draw_text(surf, "wait.at_most", "body", COLORS["muted"], pygame.Rect(a.x, y + th.px(20), a.width,
                     th.px(100)), 2, seconds=left)


@dataclass(frozen=True)
class Action:
    key: str
    run: Callable[[], None]
    style: str = "primary"
    name: str = ""


class MessageScreen(Screen):
    """What happened and what to do next, in plain words, with one or two ways forward."""

    name = "message"

    def __init__(self, ui: UI, title: str, body: str, actions: Sequence[Action], kind: str = "error",
                 name: str = "message", **fields: Any) -> None:
        super().__init__(ui)
        self.title_key, self.body, self.actions, self.kind = "msg.bar." + kind, body, list(actions), kind
        self.heading, self.fields, self.name = title, fields, name
        self.offers_home = any(a.name == "home" or a.key == "nav.home" for a in self.actions)  # footer: no 2nd

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        n = len(self.actions)
        gap = th.px(24)
        bw = min(th.px(620), (area.width - gap * (n - 1)) // max(1, n))
        total = n * bw + (n - 1) * gap
        font = self.ui.text.font(th.font_px("button"), True)
        stacked = any(font.size(self.ui.t(a.key))[0] + th.px(40) > bw for a in self.actions)  # one a row
        for i, action in enumerate(self.actions):
            rect = (pygame.Rect(area.x, area.bottom - (n - i) * th.button_h - (n - 1 - i) * gap, area.width,
                                th.button_h) if stacked
                    else pygame.Rect(area.centerx - total // 2 + i * (bw + gap), area.bottom - th.button_h, bw,
                                     th.button_h))
            self.buttons.append(Button(rect, action.key, action.run, action.style, name=action.name or action.key))
        self.actions_top = min((b.rect.y for b in self.buttons), default=area.bottom)

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, a = self.ui, self.ui.theme, self.area
        body_w = a.width - th.px(120)
        body_n = len(ui.text.wrap(ui.t(self.body, **self.fields), th.font_px("body"), body_w))
        heading_n = len(ui.text.wrap(ui.t(self.heading, **self.fields), th.font_px("title"), a.width, True))
        room = self.actions_top - a.y - th.px(80) - th.lines_h("body", body_n)
        # The mark above the heading; beside it, smaller, when the words need the room (care mode).
        compact = th.px(180) + th.lines_h("title", heading_n) > room
        icon_r = th.px(40 if compact else 60)
        cx, cy = (a.x + icon_r, a.y + icon_r) if compact else (a.centerx, a.y + th.px(90))
        color = {"error": COLORS["danger"], "ok": COLORS["ok"], "info": COLORS["primary"]}[self.kind]
        pygame.draw.circle(surf, color, (cx, cy), icon_r)
        glyph = {"error": "!", "ok": "✓", "info": "i"}[self.kind]
        ui.text.blit(surf, glyph, th.font_px("huge" if not compact else "title"), COLORS["on_primary"], True,
                     role="glyph", center=(cx, cy))
        heading = (pygame.Rect(a.x + 2 * icon_r + th.px(24), a.y, a.width - 2 * icon_r - th.px(24),
                               th.lines_h("title", 2)) if compact
                   else pygame.Rect(a.x, cy + icon_r + th.px(30), a.width, th.px(160)))
        y = ui.draw_text(surf, self.heading, "title", COLORS["text"], heading, 2, bold=True,
                         align="left" if compact else "center", **self.fields)
        ui.draw_text(surf, self.body, "body", COLORS["text"], pygame.Rect(a.x + th.px(60), y + th.px(20),
                     body_w, self.actions_top - y - th.px(60)), 6, **self.fields)
        super().draw(surf)
