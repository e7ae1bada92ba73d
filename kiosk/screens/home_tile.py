"""A tile of the home screens: the service's title is the big word, as large as the tile allows and
never below the floor of its mode; the hint under it is shown only where it fits whole at the
floor (the title carries the meaning), and a paused tile always says so, in the fewest words when
its tile has no room for all of them. A care-mode tile's pictogram takes what the words leave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pygame

from kiosk.screens.text import LINE_PITCH
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button

if TYPE_CHECKING:
    from kiosk.screens.shell import UI


@dataclass(frozen=True)
class Words:
    """How a tile's words are set: the title's size and lines, the hint's (none: dropped)."""

    size: int
    lines: list[str]
    sub_size: int
    sub_lines: list[str]

    def height(self, gap: int) -> int:
        title = len(self.lines) * int(self.size * LINE_PITCH)
        return title + (gap + len(self.sub_lines) * int(self.sub_size * LINE_PITCH) if self.sub_lines else 0)


@dataclass
class Tile(Button):
    # a paused tile's reason in the fewest words (暂停使用), for a tile with no room for `sublabel`
    short: str = ""

    def draw(self, ui: UI, surf: pygame.Surface) -> None:
        th = ui.theme
        if not self.enabled:
            bg, fg, border = COLORS["disabled"], COLORS["on_disabled"], COLORS["tile_border"]
        elif self.style == "secondary":
            bg, fg, border = COLORS["surface"], COLORS["text"], COLORS["tile_border"]
        else:
            bg = COLORS[self.style]
            fg, border = COLORS[f"on_{self.style}"], bg
        edge = max(2, th.px(3))
        pygame.draw.rect(surf, bg, self.rect, border_radius=th.radius)
        pygame.draw.rect(surf, border, self.rect, width=edge, border_radius=th.radius)
        if ui.text.log is not None:
            ui.text.log.widgets.append((pygame.Rect(self.rect), ui.text.log.layer))
        box = self.rect.inflate(-2 * edge, -2 * edge)
        inner = box.inflate(-2 * th.px(4), -2 * th.px(2))
        gap = th.px(4)
        art_min = min(th.px(150), inner.height // 4) if self.icon is not None else 0
        words = self.words(ui, inner.width, inner.height - art_min, gap)
        words_h = words.height(gap)
        top = inner.y + (inner.height - words_h) // 2
        if self.icon is not None:  # the pictogram above the words, in what they leave
            art_h = min(inner.height * 9 // 20, inner.height - words_h - th.px(12))
            top = inner.y + (inner.height - art_h - th.px(12) - words_h) // 2
            self.icon(surf, pygame.Rect(inner.x, top, inner.width, art_h), fg)
            top += art_h + th.px(12)
        y = ui.draw_lines(surf, words.lines, words.size, fg, inner.centerx, top, bold=True, role="button", box=box)
        if words.sub_lines:
            ui.draw_lines(surf, words.sub_lines, words.sub_size, fg, inner.centerx, y + gap, role="small", box=box)

    def words(self, ui: UI, width: int, height: int, gap: int) -> Words:
        """The largest title that leaves room for the hint at the floor; else the title alone
        (a paused tile: with the fewest words of its reason)."""
        th, text = ui.theme, ui.text
        floor, pitch = th.floor_px, int(th.floor_px * LINE_PITCH)
        title = ui.t(self.label, **self.fields)
        # an open tile may do without its hint; a paused one keeps its reason, in fewer words if need be
        keys = [k for k in (self.sublabel, "" if self.enabled else self.short) if k]
        if self.enabled or not keys:
            keys.append("")
        words = Words(floor, [title], 0, [])
        for key in keys:
            sub = ui.t(key, **self.fields) if key else ""
            for start in (th.font_px("button"), floor):
                size, lines = text.fit(title, start, width, 1, bold=True, height=height - (pitch + gap if sub else 0))
                if not sub:
                    return Words(size, lines, 0, [])
                title_h = len(lines) * int(size * LINE_PITCH) + gap
                sub_size, sub_lines = text.fit(sub, th.font_px("small"), width, 2, height=height - title_h)
                words = Words(size, lines, sub_size, sub_lines)
                if size >= floor and sub_size >= floor:
                    return words
        return words  # nothing fits at the floor: the layout checks say so
