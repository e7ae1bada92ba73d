"""Receipts as data (title, fields, separators, QR code, footer) and their two printed forms:
GB18030 text lines for the printer's Chinese mode, or one image drawn with the UI's CJK font.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from kiosk.domain.masking import mask_id, mask_name
from kiosk.hw.printer_escpos import Feed, Picture, PrintOp, QrCode, TextLine

TEXT_MODE = "gb18030"
RASTER_MODE = "raster"
QR_MODULE_DOTS = 6  # about 0.75 mm a module at 203 dpi: phones read it from 20 cm


@dataclass(frozen=True)
class Title:
    text: str


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Separator:
    char: str = "-"


@dataclass(frozen=True)
class Qr:
    data: str
    caption: str = ""


@dataclass(frozen=True)
class Note:
    text: str
    align: str = "left"


Block = Title | Field | Separator | Qr | Note


@dataclass(frozen=True)
class ReceiptDocument:
    """A receipt's content in order; holds masked values only."""

    blocks: tuple[Block, ...]

    @property
    def qr_payloads(self) -> tuple[str, ...]:
        return tuple(b.data for b in self.blocks if isinstance(b, Qr))


_LABELS = {
    "zh_CN": {"service": "业务", "name": "姓名", "id": "身份证号", "result": "结果",
              "reference": "业务编号", "kiosk": "终端", "time": "时间",
              "keep": "请妥善保管本凭条", "scan": "扫码查询办理进度"},
    "en": {"service": "Service", "name": "Name", "id": "ID number", "result": "Result",
           "reference": "Reference", "kiosk": "Kiosk", "time": "Time",
           "keep": "Please keep this receipt", "scan": "Scan to follow this case"},
}


def service_receipt(
    *, bureau: str, service: str, id_number: str, name: str, result: str, reference: str,
    kiosk_id: str, when: datetime, lang: str = "zh_CN", note: str = "",
) -> ReceiptDocument:
    """The receipt every service prints: masked identity, result and a reference with its QR."""
    t = _LABELS[lang]
    blocks: list[Block] = [
        Title(bureau), Separator(),
        Field(t["service"], service), Field(t["name"], mask_name(name)),
        Field(t["id"], mask_id(id_number)), Field(t["result"], result),
        Field(t["reference"], reference), Separator(),
        Qr(reference, t["scan"]),
    ]
    if note:
        blocks.append(Note(note))
    blocks += [Separator(), Field(t["kiosk"], kiosk_id),
               Field(t["time"], when.strftime("%Y-%m-%d %H:%M")), Note(t["keep"], "center")]
    return ReceiptDocument(tuple(blocks))


# -- text mode ------------------------------------------------------------------------------------


def cells(text: str) -> int:
    """Columns on the printer: in Chinese mode every non-ASCII character is double width."""
    return sum(1 if ch.isascii() else 2 for ch in text)


def wrap(text: str, columns: int) -> list[str]:
    """Break text into lines of at most `columns` printer columns."""
    lines, line = [], ""
    for ch in text:
        if cells(line + ch) > columns:
            lines.append(line)
            line = ""
        line += ch
    return lines + [line] if line or not lines else lines


def field_lines(label: str, value: str, columns: int) -> list[str]:
    """`label：value` with the value flush right; long values continue right-aligned below."""
    head = f"{label}：" if not label.isascii() else f"{label}: "
    if cells(head) + cells(value) <= columns:
        return [head + " " * (columns - cells(head) - cells(value)) + value]
    out = [head]
    for part in wrap(value, columns):
        out.append(" " * (columns - cells(part)) + part)
    return out


def text_ops(doc: ReceiptDocument, columns: int) -> list[PrintOp]:
    """Lines for a printer with Chinese fonts (sent as GB18030 in its Chinese mode)."""
    ops: list[PrintOp] = []
    for b in doc.blocks:
        if isinstance(b, Title):
            wide = 2 if cells(b.text) * 2 <= columns else 1
            ops.append(TextLine(b.text, align="center", bold=True, width=wide, height=2))
        elif isinstance(b, Field):
            ops += [TextLine(line) for line in field_lines(b.label, b.value, columns)]
        elif isinstance(b, Separator):
            ops.append(TextLine(b.char * (columns // cells(b.char))))
        elif isinstance(b, Qr):
            ops += [Feed(1), QrCode(b.data, QR_MODULE_DOTS)]
            if b.caption:
                ops.append(TextLine(b.caption, align="center"))
        elif isinstance(b, Note):
            ops += [TextLine(line, align=b.align) for line in wrap(b.text, columns)]
    return ops + [Feed(2)]


# -- raster mode ----------------------------------------------------------------------------------

BODY_PX, TITLE_PX, ROW_PX = 24, 40, 32


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def default_font(bold: bool = False) -> Path:
    """Noto Sans SC from pygame_gui, located without importing pygame."""
    spec = importlib.util.find_spec("pygame_gui")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pygame_gui is not installed; set ui.font_path to a CJK font")
    name = "NotoSansSC-Bold.otf" if bold else "NotoSansSC-Regular.otf"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _wrap_px(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if line and font.getlength(line + ch) > width:
            lines.append(line)
            line = ""
        line += ch
    return lines + [line] if line or not lines else lines


def _qr_image(data: str) -> Image.Image:
    import qrcode

    code = qrcode.QRCode(box_size=QR_MODULE_DOTS, border=4,
                         error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image().get_image().convert("L")


def render_image(doc: ReceiptDocument, width_dots: int, font_path: str = "") -> Image.Image:
    """The whole receipt as one black-and-white image `width_dots` wide, text proportional."""
    regular = _font(font_path or str(default_font()), BODY_PX)
    bold_path = font_path or str(default_font(bold=True))
    page = Image.new("L", (width_dots, 4000), 255)
    draw = ImageDraw.Draw(page)
    y = 0

    def row(text: str, align: str, font: ImageFont.FreeTypeFont = regular, h: int = ROW_PX) -> None:
        nonlocal y
        x = {"left": 0, "center": width_dots // 2, "right": width_dots}[align]
        anchor = {"left": "lm", "center": "mm", "right": "rm"}[align]
        draw.text((x, y + h // 2), text, font=font, fill=0, anchor=anchor)
        y += h

    for b in doc.blocks:
        if isinstance(b, Title):
            size = TITLE_PX
            while size > BODY_PX and _font(bold_path, size).getlength(b.text) > width_dots:
                size -= 2
            for line in _wrap_px(b.text, _font(bold_path, size), width_dots):
                row(line, "center", _font(bold_path, size), size + 16)
        elif isinstance(b, Field):
            label = f"{b.label}：" if not b.label.isascii() else f"{b.label}: "
            room = width_dots - regular.getlength(label)
            if regular.getlength(b.value) <= room:
                draw.text((0, y + ROW_PX // 2), label, font=regular, fill=0, anchor="lm")
                row(b.value, "right")
            else:
                row(label, "left")
                for line in _wrap_px(b.value, regular, width_dots):
                    row(line, "right")
        elif isinstance(b, Separator):
            for x in range(0, width_dots, 12):
                draw.line((x, y + ROW_PX // 2, x + 6, y + ROW_PX // 2), fill=0, width=2)
            y += ROW_PX
        elif isinstance(b, Qr):
            qr = _qr_image(b.data)
            page.paste(qr, ((width_dots - qr.width) // 2, y))
            y += qr.height
            if b.caption:
                row(b.caption, "center")
        elif isinstance(b, Note):
            for line in _wrap_px(b.text, regular, width_dots):
                row(line, b.align if b.align in ("left", "center", "right") else "left")
    # Thermal paper has two tones: threshold here so what is sent is what the PNG shows.
    return page.crop((0, 0, width_dots, y + 24)).point(lambda v: 0 if v < 160 else 255).convert("1")


def raster_ops(doc: ReceiptDocument, width_dots: int, font_path: str = "") -> list[PrintOp]:
    """For printers without Chinese fonts: one raster image, then paper to tear it off."""
    return [Picture(render_image(doc, width_dots, font_path)), Feed(2)]


def receipt_ops(
    doc: ReceiptDocument, mode: str, width_dots: int, font_path: str = ""
) -> Sequence[PrintOp]:
    """The print operations for `printer.text_mode` (gb18030 or raster)."""
    if mode == RASTER_MODE:
        return raster_ops(doc, width_dots, font_path)
    return text_ops(doc, width_dots // 12)
