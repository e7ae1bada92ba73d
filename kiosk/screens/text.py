"""CJK-capable text rendering with a cache that the session wipe clears.

The font comes from a declared dependency (pygame_gui ships Noto Sans SC) or ui.font_path, never
from the system's font set or the network: screens look the same on every machine.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pygame

from kiosk.domain.text_layout import break_lines, is_word_char

log = logging.getLogger(__name__)


class FontNotFound(RuntimeError):
    pass


def find_font(configured: str = "", bold: bool = False) -> Path:
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontNotFound(f"ui.font_path={configured} does not exist")
        return path
    name = "NotoSansSC-Bold.otf" if bold else "NotoSansSC-Regular.otf"
    try:
        candidate = Path(str(resources.files("pygame_gui").joinpath("data", name)))
    except ModuleNotFoundError:
        candidate = Path("/nonexistent")
    if candidate.is_file():
        return candidate
    # No fallback to whatever CJK font the system has: another font is other text widths, other
    # line breaks and other screens than the ones tested. The font is a dependency, or configured.
    raise FontNotFound("no CJK font: install pygame_gui (it ships Noto Sans SC) or set ui.font_path")


LINE_PITCH = 1.25  # lines of a block are this many times the font size apart


@dataclass(frozen=True)
class DrawnText:
    """One line of text as it was drawn: what the layout checks (tests/ui/test_rendered_text.py)
    judge. `role` is the theme role it was sized for ("body", "small", "button", ...; "glyph" for
    a mark in a picture, "" when the caller sized it itself); `box` the rectangle it had to stay
    in, when the caller had one; `block` the lines drawn together (a wrapped paragraph), so
    where it broke can be judged; `layer` counts the panels drawn over the screen before it."""

    text: str
    size: int
    bold: bool
    ink: pygame.Rect  # its pixels, in the coordinates of the surface drawn on
    role: str
    box: pygame.Rect | None
    block: tuple[str, ...]
    layer: int


@dataclass
class TextLog:
    """What a frame drew, line by line, and the controls it drew the lines in. Set as
    TextRenderer.log by tests; in service there is none and drawing records nothing."""

    runs: list[DrawnText] = field(default_factory=list)
    widgets: list[tuple[pygame.Rect, int]] = field(default_factory=list)  # (rect, layer)
    rendered: set[tuple[str, int, bool]] = field(default_factory=set)  # every line rendered, placed or not
    cuts: dict[tuple[str, ...], list[int]] = field(default_factory=dict)  # wrapped lines -> lines ending in a word
    layer: int = 0

    def cover(self) -> None:
        """A panel (the inactivity prompt, a notice) is drawn over what is there: what comes
        next may lie over what was drawn before without overlapping it."""
        self.layer += 1

    def clear(self) -> None:
        self.runs.clear()
        self.widgets.clear()
        self.rendered.clear()
        self.layer = 0


class TextRenderer:
    """Fonts by (size, bold) and an LRU cache of rendered lines."""

    def __init__(self, font_path: str = "", cache_size: int = 600) -> None:
        self.regular = find_font(font_path)
        self.bold = find_font(font_path, bold=True) if not font_path else self.regular
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._cache: OrderedDict[tuple, pygame.Surface] = OrderedDict()
        self.cache_size = cache_size
        self.rendered: set[str] = set()  # every string drawn since the last reset (for tests)
        self.floor = 12  # the least text size on the screen drawn (Theme.text_floor); fit() keeps to it
        self.log: TextLog | None = None  # where each drawn line and its box are recorded (for tests)

    def font(self, size: int, bold: bool = False) -> pygame.font.Font:
        key = (size, bold)
        if key not in self._fonts:
            self._fonts[key] = pygame.font.Font(str(self.bold if bold else self.regular), size)
        return self._fonts[key]

    def render(self, text: str, size: int, color: tuple[int, int, int], bold: bool = False) -> pygame.Surface:
        key = (text, size, color, bold)
        surf = self._cache.get(key)
        if surf is None:
            surf = self.font(size, bold).render(text, True, color)
            self._cache[key] = surf
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        self.rendered.add(text)
        if self.log is not None:
            self.log.rendered.add((text, size, bold))
        return surf

    def blit(self, surf: pygame.Surface, text: str, size: int, color: tuple[int, int, int], bold: bool = False,
             *, role: str = "", box: pygame.Rect | None = None, block: tuple[str, ...] = (),
             **anchor: Any) -> pygame.Rect:
        """Draw one line where `anchor` puts its rectangle (topleft=, center=, midleft=, ...):
        the one place text reaches a surface, so a test can see every line, its size and its box."""
        img = self.render(text, size, color, bold)
        rect = img.get_rect(**anchor)
        surf.blit(img, rect)
        if self.log is not None:
            ink = img.get_bounding_rect().move(rect.topleft)
            self.log.runs.append(DrawnText(text, size, bold, ink, role, box and pygame.Rect(box),
                                           block or (text,), self.log.layer))
        return rect

    def draw_block(self, surf: pygame.Surface, lines: list[str], size: int, color: tuple[int, int, int], x: int,
                   top: int, bold: bool = False, align: str = "center", *, role: str = "",
                   box: pygame.Rect | None = None) -> int:
        """Lines one pitch apart from `top`, centred on x or starting at it; returns the y below
        them. role and box (the theme role, the rectangle they must stay in) are for the checks."""
        y, pitch, lift, block = top, int(size * LINE_PITCH), self.line_offset(size, bold), tuple(lines)
        for line in lines:
            where = {"midtop": (x, y - lift)} if align == "center" else {"topleft": (x, y - lift)}
            self.blit(surf, line, size, color, bold, role=role, box=box, block=block, **where)
            y += pitch
        return y

    def line_offset(self, size: int, bold: bool = False) -> int:
        """How far above its line a line is drawn so its letters stay within the line pitch: the
        font's height (ascent and descent) is more than the pitch, and the space above its tallest
        letters is larger than the room under its descenders, so the bottom of the font's box
        goes on the bottom of the line (letters: 0.01 to 1.24 of the size below the line's top)."""
        return max(0, self.font(size, bold).get_height() - int(size * LINE_PITCH))

    def cached_texts(self) -> list[str]:
        return [k[0] for k in self._cache]

    def clear(self) -> None:
        """Forget every rendered line: called when a citizen session ends."""
        self._cache.clear()
        self.rendered.clear()

    def wrap(self, text: str, size: int, width: int, bold: bool = False) -> list[str]:
        """Lines of text no wider than width, by the rules receipts use too (text_layout)."""
        font = self.font(size, bold)
        lines = break_lines(text, lambda line: font.size(line)[0] <= width)
        if self.log is not None:
            self.log.cuts[tuple(lines)] = cut_words(text, lines)
        return lines

    def fit(self, text: str, size: int, width: int, max_lines: int, bold: bool = False,
            min_size: int = 12, height: int | None = None) -> tuple[int, list[str]]:
        """The largest size <= size at which text wraps into max_lines within width (and height),
        without cutting a word a line could hold whole. It gets no smaller than `floor` (the
        screen's least text size, which the UI sets) while another line fits the height: a long
        text wraps onto more lines at the floor first. Only a text that fits no way at the floor
        goes below it, down to min_size (better small than cut off; the layout checks report it)."""
        floor = max(min_size, min(size, self.floor))
        for n in range(max_lines, max_lines + 1 + (max(0, height // int(floor * LINE_PITCH) - max_lines)
                                                    if height is not None else 0)):
            at = size if n == max_lines else floor  # more lines only at the floor
            while True:
                lines = self._fits(text, at, width, n, bold, height, floor)
                if lines is not None:
                    return at, lines
                if at <= floor:
                    break
                at = max(floor, int(at * 0.92))
        at = floor
        while at > min_size:
            at = max(min_size, int(at * 0.92))
            lines = self._fits(text, at, width, max_lines, bold, height, at)
            if lines is not None:
                return at, lines
        return min_size, self.wrap(text, min_size, width, bold)

    def _fits(self, text: str, size: int, width: int, max_lines: int, bold: bool,
              height: int | None, floor: int) -> list[str] | None:
        font = self.font(size, bold)
        lines = self.wrap(text, size, width, bold)
        if len(lines) > max_lines or (height is not None and len(lines) * int(size * LINE_PITCH) > height):
            return None
        if any(font.size(line)[0] > width for line in lines):
            return None
        for i in cut_words(text, lines):  # a word cut in two only when no line holds it, even at the floor
            word = re.search(r"\S*$", lines[i]).group() + re.match(r"\S*", lines[i + 1]).group()  # type: ignore[union-attr]
            if size > floor or self.font(floor, bold).size(word)[0] <= width:
                return None
        return lines


def cut_words(text: str, lines: list[str]) -> list[int]:
    """The lines of `text` (as wrapped) that end inside a word: the word goes on on the next line."""
    cuts, pos = [], 0
    for i, line in enumerate(lines):
        found = text.find(line, pos) if line else pos
        pos = (found if found >= 0 else pos) + len(line)
        if i + 1 < len(lines) and 0 < pos < len(text) and is_word_char(text[pos - 1]) and is_word_char(text[pos]):
            cuts.append(i)
    return cuts
