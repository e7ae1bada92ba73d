"""CJK-capable text rendering with a cache that the session wipe clears.

The font comes from a declared dependency (pygame_gui ships Noto Sans SC) or ui.font_path, never
from the system's font set or the network: screens look the same on every machine.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pygame

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


class TextRenderer:
    """Fonts by (size, bold) and an LRU cache of rendered lines."""

    def __init__(self, font_path: str = "", cache_size: int = 600) -> None:
        self.regular = find_font(font_path)
        self.bold = find_font(font_path, bold=True) if not font_path else self.regular
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._cache: OrderedDict[tuple, pygame.Surface] = OrderedDict()
        self.cache_size = cache_size
        self.rendered: set[str] = set()  # every string drawn since the last reset (for tests)

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
        return surf

    def cached_texts(self) -> list[str]:
        return [k[0] for k in self._cache]

    def clear(self) -> None:
        """Forget every rendered line: called when a citizen session ends."""
        self._cache.clear()
        self.rendered.clear()

    def wrap(self, text: str, size: int, width: int, bold: bool = False) -> list[str]:
        """Greedy wrap: words for Latin text, any character boundary for CJK."""
        font = self.font(size, bold)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            rows: list[list[str]] = [[]]
            for token in _tokens(paragraph):
                trial = "".join(rows[-1]) + token
                if rows[-1] and font.size(trial.rstrip())[0] > width:
                    rows.append([token.lstrip()])
                else:
                    rows[-1].append(token)
            _no_orphan(rows, lambda line: font.size(line.rstrip())[0] <= width)
            lines += ["".join(row).rstrip() for row in rows]
        return lines

    def fit(self, text: str, size: int, width: int, max_lines: int, bold: bool = False,
            min_size: int = 12, height: int | None = None) -> tuple[int, list[str]]:
        """The largest size <= size at which text wraps into max_lines within width (and height)."""
        while True:
            lines = self.wrap(text, size, width, bold)
            widest = max((self.font(size, bold).size(line)[0] for line in lines), default=0)
            tall_enough = height is None or len(lines) * int(size * 1.25) <= height
            if (len(lines) <= max_lines and widest <= width and tall_enough) or size <= min_size:
                return size, lines
            size = max(min_size, int(size * 0.92))


def _no_orphan(rows: list[list[str]], fits: Callable[[str], bool]) -> None:
    """A last line of one Chinese character, or one short word, reads badly: pull the last token
    of the line above down to it, when the line above keeps at least two and the pair fits."""
    if len(rows) < 2 or len(rows[-1]) != 1 or len(rows[-2]) < 3:
        return
    last = rows[-1][0].strip().rstrip("".join(_NO_LINE_START))
    if not last or (len(last) != 1 if not last[0].isascii() else len(last) > 4):
        return
    moved = rows[-2][-1]
    if not moved.strip() or moved.strip()[0] in _NO_LINE_START or not fits(moved.lstrip() + rows[-1][0]):
        return  # never start a line with closing punctuation, never overflow
    rows[-2].pop()
    rows[-1].insert(0, moved.lstrip())


_NO_LINE_START = set("，。、；：？！）》」』”’…%,.;:?!)")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            tokens.append(word)
            word = ""
        if (ch.isspace() or ch in _NO_LINE_START) and tokens:
            tokens[-1] += ch  # kinsoku: closing punctuation never starts a line
        else:
            tokens.append(ch)
    if word:
        tokens.append(word)
    return tokens
