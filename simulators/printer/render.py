"""Draws a Sheet as the paper would look: a PNG of the whole paper width, dots as pixels.

Text uses the Noto Sans SC fonts bundled with pygame_gui (CJK and emphasis) and its Fira Code
(half-width characters, so Font A keeps a 12x24 grid), drawn glyph by glyph into character cells.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .paper import FONT_CELLS, KANJI_CELL, Bitmap, Glyph, Sheet, TextLine

# Paper is wider than the 384/576-dot print head; the unprinted edges also give QR codes near
# the left margin the quiet zone a phone needs.
PAPER_DOTS = {384: 464, 576: 640}
TOP_MARGIN = 16
BOTTOM_MARGIN = 24


@functools.cache
def font_dir() -> Path:
    """pygame_gui's data folder, found without importing pygame (which prints a banner)."""
    spec = importlib.util.find_spec("pygame_gui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pygame_gui is not installed; it provides the receipt fonts")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout, always: Pillow would pick RAQM only where libfribidi happens to be installed,
    # and the same receipt would render to different pixels on another machine.
    return ImageFont.truetype(str(font_dir() / name), size, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _glyph_image(char: str, full: bool, bold: bool, font: int, scale_h: int) -> Image.Image:
    """One character in its cell at height magnification scale_h; mode 'L', 0 = ink."""
    cw, ch = KANJI_CELL if full else FONT_CELLS[font]
    cw, ch = cw * scale_h, ch * scale_h
    img = Image.new("L", (cw, ch), 255)
    if not char.strip():
        return img
    draw = ImageDraw.Draw(img)
    if full or bold or not char.isascii():
        name = "NotoSansSC-Bold.otf" if bold else "NotoSansSC-Regular.otf"
        size = int(ch * (0.92 if full else 0.78))
        # Centre the ideographic em box (-0.12..0.88 em around the baseline), not the font's
        # ascender/descender box, which would sit Chinese characters on the cell's bottom edge.
        draw.text((cw / 2, ch / 2 + 0.38 * size), char, font=_font(name, size), fill=0, anchor="ms")
    else:
        size = int(ch * 0.80)
        draw.text((cw / 2, ch / 2), char, font=_font("FiraCode-Regular.ttf", size), fill=0,
                  anchor="mm")
    return img


def _draw_glyph(page: Image.Image, x: int, y: int, g: Glyph) -> None:
    if g.bitmap is not None:
        page.paste(g.bitmap, (x, y))
        return
    draw = ImageDraw.Draw(page)
    if g.char.strip():
        cell_w = (KANJI_CELL if g.full_width else FONT_CELLS[g.style.font])[0] * g.style.width
        img = _glyph_image(g.char, g.full_width, g.style.bold, g.style.font, g.style.height)
        if img.width != cell_w:  # width magnification stretches, as the print head does
            img = img.resize((cell_w, img.height), Image.BILINEAR)
        if g.style.invert:
            draw.rectangle((x, y, x + g.width - 1, y + g.height - 1), fill=0)
            img = Image.eval(img, lambda v: 255 - v)
        page.paste(img, (x, y))
    elif g.style.invert and g.height:
        draw.rectangle((x, y, x + g.width - 1, y + g.height - 1), fill=0)
    if g.style.underline and g.height:
        draw.rectangle(
            (x, y + g.height - g.style.underline, x + g.width - 1, y + g.height - 1), fill=0
        )


def render_sheet(sheet: Sheet) -> Image.Image:
    """The sheet as a grayscale image, paper margins included."""
    paper_w = PAPER_DOTS.get(sheet.width_dots, sheet.width_dots + 64)
    left = (paper_w - sheet.width_dots) // 2
    page = Image.new("L", (paper_w, TOP_MARGIN + sheet.height_dots + BOTTOM_MARGIN), 255)
    for op in sheet.ops:
        if isinstance(op, Bitmap):
            page.paste(op.image, (left + op.x, TOP_MARGIN + op.y))
        elif isinstance(op, TextLine):
            for x, g in op.glyphs:
                # Characters share a baseline: taller (double-height) ones reach further up.
                _draw_glyph(page, left + x, TOP_MARGIN + op.y + op.height - g.height, g)
    return page


def has_glyph(char: str, bold: bool = False) -> bool:
    """Whether the receipt fonts draw `char` as itself rather than the empty 'tofu' box."""
    full = not char.isascii()
    drawn = _glyph_image(char, full, bold, 0, 1)
    return drawn.tobytes() != _glyph_image("\U0010fffd", full, bold, 0, 1).tobytes()
