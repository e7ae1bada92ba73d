"""Receipt pixels do not depend on what happens to be installed.

Pillow lays text out with RAQM where the system has libfribidi and with BASIC elsewhere, unless the
caller names an engine. A clean Debian 12 has no libfribidi, so a default left to Pillow renders
other bytes there than on a machine that has it. Every font the product and its simulators load
names its engine; these tests catch one that does not, on any machine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from PIL import ImageFont, features

import kiosk.services.printing as printing
from simulators.printer import render

from .test_golden import wire_bytes

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("kiosk", "simulators", "bench")


def _truetype_calls_without_engine() -> list[str]:
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                fn = node.func
                name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                if name in ("truetype", "FreeTypeFont") and not any(k.arg == "layout_engine" for k in node.keywords):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_truetype_font_names_its_layout_engine():
    """GIVEN the product, simulator and bench sources WHEN searched for font loads THEN each one
    passes layout_engine= (and there are some: the search would otherwise prove nothing)."""
    assert not _truetype_calls_without_engine()
    text = "\n".join((ROOT / f).read_text(encoding="utf-8") for f in
                     ("kiosk/services/printing.py", "simulators/printer/render.py"))
    assert text.count("ImageFont.truetype(") >= 2


def _clear_font_caches() -> None:
    printing._font.cache_clear()
    render._font.cache_clear()
    render._glyph_image.cache_clear()


def _simulator_glyph_bytes() -> bytes:
    return b"".join(render._glyph_image(ch, full, bold, 0, scale).tobytes()
                    for ch, full, bold, scale in (("养", True, False, 1), ("A", False, False, 1), ("明", True, True, 2)))


def _rendered(monkeypatch, raqm: bool) -> tuple[bytes, bytes]:
    _clear_font_caches()
    monkeypatch.setattr(ImageFont.core, "HAVE_RAQM", raqm)
    try:
        return wire_bytes("raster"), _simulator_glyph_bytes()
    finally:
        _clear_font_caches()


def test_receipt_bytes_and_simulator_glyphs_are_the_same_with_and_without_raqm(monkeypatch):
    """GIVEN the golden receipt in raster mode and glyphs the printer simulator draws WHEN rendered
    as on a machine without libfribidi and as on one with it THEN the bytes are the same."""
    if not features.check("raqm"):
        pytest.skip("no RAQM here (no libfribidi): only the machine without it can be imitated; "
                    "the source check above still holds")
    assert _rendered(monkeypatch, False) == _rendered(monkeypatch, True)
