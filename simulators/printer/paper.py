"""What ends up on the paper: text lines and bitmaps at known positions, cut into sheets.

Values only; the machine builds them, the renderer draws them, tests read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

FONT_CELLS = {0: (12, 24), 1: (9, 17)}  # Font A and Font B character cells, dots
KANJI_CELL = (24, 24)  # one GB18030 character in Chinese mode


@dataclass(frozen=True)
class Style:
    """Character print modes in effect when a character was received."""

    bold: bool = False
    underline: int = 0  # dots thick: 0, 1 or 2
    width: int = 1  # magnification 1..8
    height: int = 1
    invert: bool = False  # white on black (GS B)
    font: int = 0  # 0 = Font A, 1 = Font B


@dataclass(frozen=True)
class Glyph:
    """One character (or one ESC * image band) placed in a line."""

    char: str
    full_width: bool
    style: Style
    width: int  # dots, including character spacing
    height: int
    bitmap: Image.Image | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Run:
    """Consecutive characters of one style, for tests and transcripts."""

    text: str
    style: Style


@dataclass(frozen=True)
class TextLine:
    """A printed line: glyphs at x offsets, top at y, aligned as ESC a said at its start."""

    y: int
    height: int
    align: str
    glyphs: tuple[tuple[int, Glyph], ...]

    @property
    def text(self) -> str:
        return "".join(g.char for _, g in self.glyphs if g.bitmap is None).rstrip()

    @property
    def runs(self) -> tuple[Run, ...]:
        runs: list[Run] = []
        for _, g in self.glyphs:
            if g.bitmap is not None:
                continue
            if runs and runs[-1].style == g.style:
                runs[-1] = Run(runs[-1].text + g.char, g.style)
            else:
                runs.append(Run(g.char, g.style))
        return tuple(r for r in runs if r.text.strip())


@dataclass(frozen=True)
class Bitmap:
    """A raster image, native QR code or graphics block; mode 'L', 0 = ink."""

    x: int
    y: int
    image: Image.Image = field(compare=False)
    label: str


@dataclass(frozen=True)
class Sheet:
    """One piece of paper between two cuts (or torn off when the paper ran out)."""

    width_dots: int
    height_dots: int
    ops: tuple[TextLine | Bitmap, ...]
    transcript: tuple[str, ...]
    qr_payloads: tuple[str, ...]
    cut: str  # "full", "partial", "none" (paper ran out / simulator stopped), "overflow"
    raw: bytes = field(repr=False)

    @property
    def lines(self) -> tuple[TextLine, ...]:
        return tuple(op for op in self.ops if isinstance(op, TextLine))
