"""Colours and sizes that meet the citizen UX rules (docs/ux-rules.md): text of at least 30 px on a
screen whose short side is 800 px (40.5 at 1080), >= 96 px buttons at 1080p, contrast >= 4.5:1,
and a care mode with text 1.4 times larger. Sizes scale with the short side."""

from __future__ import annotations

import math
from dataclasses import dataclass

RGB = tuple[int, int, int]

# Foreground/background pairs actually drawn; tests check each for 4.5:1.
COLORS: dict[str, RGB] = {
    "bg": (244, 246, 249),
    "surface": (255, 255, 255),
    "text": (20, 24, 31),
    "muted": (62, 68, 80),
    "primary": (11, 83, 148),
    "on_primary": (255, 255, 255),
    "tile_border": (150, 160, 175),
    "disabled": (224, 227, 232),
    "on_disabled": (66, 71, 82),
    "danger": (160, 20, 32),
    "on_danger": (255, 255, 255),
    "danger_bg": (253, 235, 236),
    "ok": (18, 110, 60),
    "on_ok": (255, 255, 255),
    "staff": (150, 66, 0),
    "on_staff": (255, 255, 255),
    "bar": (11, 58, 104),
    "on_bar": (255, 255, 255),
    "scrim": (0, 0, 0),
}

CONTRAST_PAIRS: tuple[tuple[str, str], ...] = (
    ("text", "bg"), ("text", "surface"), ("muted", "surface"), ("muted", "bg"),
    ("on_primary", "primary"), ("on_disabled", "disabled"), ("danger", "danger_bg"),
    ("danger", "surface"), ("on_danger", "danger"), ("on_ok", "ok"), ("on_staff", "staff"),
    ("on_bar", "bar"), ("primary", "surface"),
)


def relative_luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


CARE_TEXT = 1.4  # care mode (长辈模式): text at least 1.4 times the standard size
# The smallest text a citizen is shown (issue 15, docs/ux-rules.md): 30 px on a screen whose
# short side is 800 px, scaled with the short side (40.5 px at 1080), times CARE_TEXT in care
# mode. Technician pages (maintenance) are read up close by someone trained: 20 px at 800.
FLOOR_PX, FLOOR_SHORT_SIDE = 30, 800
TECHNICIAN_FLOOR_PX = 20
TECHNICIAN_TEXT = 0.85  # technician pages: the citizen sizes times this (small: 35 px at 1080)


@dataclass(frozen=True)
class Theme:
    """Pixel sizes for one screen size and text mode."""

    width: int
    height: int
    care_mode: bool = False
    technician: bool = False  # a technician's page: denser text (its own floor), never care mode

    @property
    def scale(self) -> float:
        return min(self.width, self.height) / 1080

    @property
    def text_scale(self) -> float:
        if self.technician:
            return self.scale * TECHNICIAN_TEXT
        return self.scale * (CARE_TEXT if self.care_mode else 1.0)

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def text_floor(self) -> float:
        """The least font size, in px, of any citizen text on this screen in this mode."""
        return FLOOR_PX * min(self.width, self.height) / FLOOR_SHORT_SIDE * (CARE_TEXT if self.care_mode else 1.0)

    @property
    def technician_floor(self) -> float:
        return TECHNICIAN_FLOOR_PX * min(self.width, self.height) / FLOOR_SHORT_SIDE

    @property
    def floor_px(self) -> int:
        """The floor of this screen's text in whole pixels (40.5 is met by 40)."""
        return math.ceil((self.technician_floor if self.technician else self.text_floor) - 0.5)

    def px(self, value: float) -> int:
        return max(1, round(value * self.scale))

    def font_px(self, role: str) -> int:
        # Every role meets text_floor: 41 px at 1080 is 30 px at 800 (the floor), 57 in care mode.
        base = {"small": 41, "body": 42, "button": 44, "tile": 48, "title": 58, "huge": 84,
                "key": 58}[role]
        return max(12, round(base * self.text_scale))

    @property
    def button_h(self) -> int:
        return self.px(110 * (1.15 if self.care_mode else 1.0))

    def lines_h(self, role: str, n: int = 1) -> int:
        """The height n lines of a role take: a box for them is at least this tall."""
        return n * int(self.font_px(role) * 1.25)

    @property
    def bar_button_w(self) -> int:
        """The language and text-size buttons of the top bar: "Normal text" in care mode's size."""
        return self.px(400 if self.care_mode else 300)

    @property
    def margin(self) -> int:
        return self.px(28)

    @property
    def top_bar_h(self) -> int:
        # Portrait screens have height to spare: title on one row, controls on a second.
        return self.px(250 if self.portrait else 130)

    @property
    def top_row_h(self) -> int:
        return self.px(130)

    @property
    def bottom_bar_h(self) -> int:
        return self.px(150)

    @property
    def radius(self) -> int:
        return self.px(18)
