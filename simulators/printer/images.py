"""Bit images, graphics and 2D symbols as the printer puts them on paper.

A mixin of EscPosMachine: it uses the machine's line buffer, alignment and paper position.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PIL import Image

from . import graphics
from .kvlog import log_event
from .paper import Bitmap
from .parser import Command

if TYPE_CHECKING:
    from .paper import Glyph, TextLine


class ImageCommands:
    """GS v 0, ESC *, GS ( L / GS 8 L, GS ( k (QR) and GS k (barcodes, transcribed only)."""

    width_dots: int
    _align_mode: str
    _y: int
    _line: list[Glyph]
    _ops: list[TextLine | Bitmap]
    _transcript: list[str]
    _qr_payloads: list[str]
    _qr: dict
    _graphic: Image.Image | None

    if TYPE_CHECKING:  # provided by the machine this mixes into (simulators/printer/machine.py)
        def _print_line(self, advance: int | None) -> None: ...

        def _put(self, ch: str, full: bool, bitmap: Image.Image | None = None) -> None: ...

    def _place(self, image: Image.Image, label: str) -> None:
        if self._line:
            self._print_line(advance=None)
        if image.width > self.width_dots:
            log_event("image_clipped", logging.WARNING, width=image.width, max=self.width_dots)
            image = image.crop((0, 0, self.width_dots, image.height))
        free = self.width_dots - image.width
        x = {"left": 0, "center": free // 2, "right": free}[self._align_mode]
        self._ops.append(Bitmap(x, self._y, image, label))
        self._transcript.append(label)
        self._y += image.height

    def _raster(self, cmd: Command) -> bytes:
        m, xl, xh, yl, yh = cmd.args[3:8]
        img = graphics.raster(cmd.data, xl + xh * 256, yl + yh * 256, 1 + (m & 1), 1 + (m >> 1 & 1))
        self._place(img, f"[image {img.width}x{img.height}]")
        return b""

    def _column_image(self, cmd: Command) -> bytes:
        m, nl, nh = cmd.args[2:5]
        band = graphics.column_band(cmd.data, m, nl + nh * 256)
        self._put("", full=False, bitmap=band)
        return b""

    def _graphics(self, cmd: Command) -> bytes:
        d = cmd.data  # m fn [a bx by c xL xH yL yH data]
        if len(d) >= 2 and d[1] in (112, 113) and len(d) >= 10:
            bx, by = (2 if d[3] == 2 else 1), (2 if d[4] == 2 else 1)
            w, h = d[6] + d[7] * 256, d[8] + d[9] * 256
            self._graphic = graphics.raster(d[10:], (w + 7) // 8, h, bx, by)
            self._graphic = self._graphic.crop((0, 0, min(w * bx, self._graphic.width), h * by))
        elif len(d) >= 2 and d[1] in (50, 2):
            if self._graphic is not None:
                self._place(self._graphic, f"[image {self._graphic.width}x{self._graphic.height}]")
                self._graphic = None
        else:
            log_event("command_ignored", logging.DEBUG, cmd=cmd.name, fn=d[1] if len(d) > 1 else -1)
        return b""

    def _symbol(self, cmd: Command) -> bytes:
        d = cmd.data  # cn fn params...
        if len(d) < 3 or d[0] != 49:
            log_event("symbol_ignored", logging.INFO, cn=d[0] if d else -1)
            return b""
        fn, qr = d[1], self._qr
        if fn == 65:
            qr["model"] = d[2]
        elif fn == 67:
            qr["size"] = max(1, min(16, d[2]))
        elif fn == 69:
            qr["ecc"] = d[2] if d[2] in graphics.QR_ECC_NAMES else 48
        elif fn == 80:
            qr["data"] = d[3:]
        elif fn == 81:
            self._print_qr()
        else:
            log_event("command_ignored", logging.DEBUG, cmd="GS ( k", fn=fn)
        return b""

    def _print_qr(self) -> None:
        qr = self._qr
        if not qr["data"]:
            log_event("qr_without_data", logging.WARNING)
            return
        if qr["model"] != 50:
            log_event("qr_model_unsupported", logging.WARNING, model=qr["model"], used=2)
        try:
            img = graphics.qr_symbol(qr["data"], qr["size"], qr["ecc"])
        except ValueError:
            log_event("qr_overflow", logging.WARNING, length=len(qr["data"]))
            return
        text = qr["data"].decode("utf-8", errors="replace")
        self._qr_payloads.append(text)
        ecc = graphics.QR_ECC_NAMES[qr["ecc"]]
        self._place(img, f"[qr size={qr['size']} ecc={ecc} data={text}]")

    def _barcode(self, cmd: Command) -> bytes:
        data = cmd.data.decode("latin-1")
        log_event("barcode_not_drawn", logging.INFO, type=cmd.args[0])
        self._print_line(advance=None)
        self._transcript.append(f"[barcode type={cmd.args[0]} data={data}]")
        return b""
