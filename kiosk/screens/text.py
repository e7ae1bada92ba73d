"""CJK-capable text rendering with a cache that the session wipe clears.

The font comes from a declared dependency (pygame_gui ships Noto Sans SC) or ui.font_path, never
from the system's font set or the network: screens look the same on every machine.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from importlib import resources
from pathlib import Path

import pygame

from kiosk.domain.text_layout import break_lines

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
        """Lines of text no wider than width, by the rules receipts use too (text_layout)."""
        font = self.font(size, bold)
        return break_lines(text, lambda line: font.size(line)[0] <= width)

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

