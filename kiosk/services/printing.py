"""Putting a receipt on paper: layout to printer operations (GB18030 text or one raster image),
and the print service that checks the printer, prints, and turns every failure into an outcome.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from kiosk.domain.text_layout import break_lines, fits_within
from kiosk.hw.printer_escpos import (  # shared log helpers
    DOTS_PER_LINE,
    Feed,
    PaperLevel,
    Picture,
    PrinterError,
    PrinterStatus,
    PrintOp,
    QrCode,
    TextLine,
    _describe,
    _q,
)
from kiosk.services.receipts import (
    Field,
    Note,
    Qr,
    ReceiptContext,
    ReceiptDocument,
    Separator,
    Title,
    printer_test,
)

log = logging.getLogger(__name__)

TEXT_MODE = "gb18030"
RASTER_MODE = "raster"
QR_MODULE_DOTS = 6  # about 0.75 mm a module at 203 dpi: phones read it from 20 cm
FAILURES_KEPT = 20  # recent failures the maintenance menu lists
_OUTCOME_REASONS = ("paper_out", "cover_open", "offline", "failed", "not_installed")

# -- text mode ------------------------------------------------------------------------------------


def cells(text: str) -> int:
    """Columns on the printer: in Chinese mode every non-ASCII character is double width."""
    return sum(1 if ch.isascii() else 2 for ch in text)


def wrap(text: str, columns: int) -> list[str]:
    """Break text into lines of at most `columns` printer columns (the screens' rules)."""
    return break_lines(text, fits_within(columns, cells))


def _head(label: str) -> str:
    return f"{label}：" if not label.isascii() else f"{label}: "


def field_lines(label: str, value: str, columns: int) -> list[str]:
    """`label：value` with the value flush right; long values continue right-aligned below."""
    head = _head(label)
    if cells(head) + cells(value) <= columns:
        return [head + " " * (columns - cells(head) - cells(value)) + value]
    return [head] + [" " * (columns - cells(part)) + part for part in wrap(value, columns)]


def text_ops(doc: ReceiptDocument, columns: int) -> list[PrintOp]:
    """Lines for a printer with Chinese fonts (sent as GB18030 in its Chinese mode)."""
    ops: list[PrintOp] = []
    for b in doc.blocks:
        if isinstance(b, Title):
            wide = 2 if cells(b.text) * 2 <= columns else 1
            ops += [TextLine(line, align="center", bold=True, width=wide, height=2)
                    for line in wrap(b.text, columns // wide)]
        elif isinstance(b, Field):
            ops += [TextLine(line) for line in field_lines(b.label, b.value, columns)]
        elif isinstance(b, Separator):
            ops.append(TextLine(b.char * (columns // cells(b.char))))
        elif isinstance(b, Qr):
            ops += [Feed(1), QrCode(b.data, QR_MODULE_DOTS)]
            if b.caption:
                ops += [TextLine(line, align="center") for line in wrap(b.caption, columns)]
        elif isinstance(b, Note):
            ops += [TextLine(line, align=b.align) for line in wrap(b.text, columns)]
    return ops  # the cut feeds the last line past the cutter


# -- raster mode ----------------------------------------------------------------------------------

BODY_PX, TITLE_PX, ROW_PX = 24, 40, 32
_PAGE_MAX_PX = 8000  # scratch page height; cropped to the content


# Pillow lays text out with RAQM only where the system has libfribidi, otherwise BASIC: the same
# receipt would be different bytes on two machines. Receipts hold no right-to-left or complex
# script, so BASIC is chosen here, always.
LAYOUT_ENGINE = ImageFont.Layout.BASIC


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, layout_engine=LAYOUT_ENGINE)


def default_font(bold: bool = False) -> Path:
    """Noto Sans SC from pygame_gui, located without importing pygame."""
    spec = importlib.util.find_spec("pygame_gui")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pygame_gui is not installed; set ui.font_path to a CJK font")
    name = "NotoSansSC-Bold.otf" if bold else "NotoSansSC-Regular.otf"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _wrap_px(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    return break_lines(text, fits_within(width, font.getlength))


def _qr_image(data: str) -> Image.Image:
    matrix = reference_qr_matrix(data, border=4)
    img = Image.new("L", (len(matrix), len(matrix)), 255)
    img.putdata([0 if dark else 255 for row in matrix for dark in row])
    return img.resize((img.width * QR_MODULE_DOTS,) * 2, Image.Resampling.NEAREST)


def render_image(doc: ReceiptDocument, width_dots: int, font_path: str = "") -> Image.Image:
    """The whole receipt as one black-and-white image `width_dots` wide, text proportional."""
    regular = _font(font_path or str(default_font()), BODY_PX)
    bold_path = font_path or str(default_font(bold=True))
    page = Image.new("L", (width_dots, _PAGE_MAX_PX), 255)
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
            label = _head(b.label)
            if regular.getlength(label + b.value) <= width_dots:
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
                for line in _wrap_px(b.caption, regular, width_dots):
                    row(line, "center")
        elif isinstance(b, Note):
            for line in _wrap_px(b.text, regular, width_dots):
                row(line, b.align if b.align in ("left", "center", "right") else "left")
    # Thermal paper has two tones: threshold here so what is sent is what the PNG shows.
    return page.crop((0, 0, width_dots, y + 24)).point(lambda v: 0 if v < 160 else 255).convert("1")


def receipt_ops(
    doc: ReceiptDocument, mode: str, width_dots: int, font_path: str = ""
) -> list[PrintOp]:
    """The print operations for `printer.text_mode`: gb18030 lines, or one raster image."""
    if mode == RASTER_MODE:
        return [Picture(render_image(doc, width_dots, font_path))]
    return text_ops(doc, width_dots // 12)


def reference_qr_matrix(reference: str, border: int = 0) -> list[list[bool]]:
    """The reference number's QR code as rows of modules (True = dark), for the screen to draw.

    Same symbol as on the receipt (error correction M). Without `border` the caller draws the
    quiet zone: at least 4 light modules on every side, or phones will not read it.
    """
    import qrcode

    code = qrcode.QRCode(border=border, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(reference)
    code.make(fit=True)
    return [[bool(m) for m in row] for row in code.get_matrix()]


# -- the service ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintOutcome:
    """What happened to one receipt, for the result screen.

    reason_key: a receipt.outcome.* message for the citizen; when: "" if printed, "before"
    (nothing printed), "during"/"after" (printing stopped part-way: the receipt may be
    incomplete). device_reason is the health.printer.* key for technicians.
    """

    printed: bool
    reason_key: str
    when: str = ""
    reference: str = ""
    device_reason: str = ""

    @property
    def partial(self) -> bool:
        return self.when in ("during", "after")


@dataclass(frozen=True)
class StaffAlert:
    """Something a hall manager must do at the printer (reload paper, close the cover...)."""

    device: str
    reason: str  # health.printer.* message key
    detail: str = ""


@dataclass(frozen=True)
class PrintFailure:
    """One receipt that did not print, as the maintenance menu lists it (no personal data)."""

    at: datetime
    kind: str
    reason: str
    when: str
    detail: str


class PrintService:
    """Prints receipts on a worker thread; never raises. Call from a worker, not the UI loop."""

    def __init__(
        self, printer: Any, cfg: Any, alerts: Callable[[StaffAlert], None] | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.printer = printer
        self.mode = cfg["printer.text_mode"]
        paper_mm = cfg["printer.paper_mm"]
        self.width_dots = getattr(printer, "width_dots", DOTS_PER_LINE.get(paper_mm, 384))
        self.font_path = cfg["ui.font_path"]
        self._alerts = alerts
        self._now = now
        self._lock = threading.Lock()
        self._alerted = ""  # the printer condition staff were last alerted about
        self._failures: deque[PrintFailure] = deque(maxlen=FAILURES_KEPT)

    def __repr__(self) -> str:
        return (f"<PrintService mode={self.mode} width_dots={self.width_dots} "
                f"alerted={self._alerted or '-'} failures={len(self._failures)}>")

    @property
    def recent_failures(self) -> tuple[PrintFailure, ...]:
        """Newest last; for the maintenance menu."""
        with self._lock:
            return tuple(self._failures)

    def ops(self, doc: ReceiptDocument) -> list[PrintOp]:
        return receipt_ops(doc, self.mode, self.width_dots, self.font_path)

    def print_receipt(self, doc: ReceiptDocument) -> PrintOutcome:
        """Check, print, check again; every failure becomes an outcome, logged and alerted."""
        t0 = time.monotonic()
        phase = "before"
        try:
            if not hasattr(self.printer, "print_receipt"):  # registry's Unavailable stand-in
                reason = getattr(self.printer, "reason", "") or "health.printer.not_installed"
                return self._failed(doc, reason, "before", getattr(self.printer, "detail", ""))
            ops = self.ops(doc)
            phase = "during"  # from here on, some of it may have reached the paper
            status = self.printer.print_receipt(ops)
        except PrinterError as exc:
            self._observe(exc.status)
            return self._failed(doc, exc.reason, exc.when, exc.status.detail)
        except Exception as exc:  # a bug or a missing font must not cost the citizen the result
            return self._failed(doc, "health.printer.failed", phase, _describe(exc))
        self._observe(status)
        log.info("event=receipt_printed kind=%s mode=%s paper=%s ms=%d",
                 doc.kind or "-", self.mode, status.paper.value, (time.monotonic() - t0) * 1000)
        return PrintOutcome(True, "receipt.outcome.printed", "", doc.reference)

    def check(self) -> PrinterStatus | None:
        """Ask the printer now (heartbeat, maintenance): raises the staff alerts it calls for."""
        try:
            status = self.printer.status()
        except Exception as exc:
            log.warning("event=printer_check_failed error=%s", _q(_describe(exc)))
            return None
        self._observe(status)
        return status

    def _failed(self, doc: ReceiptDocument, reason: str, when: str, detail: str) -> PrintOutcome:
        short = reason.rsplit(".", 1)[-1]
        short = short if short in _OUTCOME_REASONS else "failed"
        key = f"receipt.outcome.{short}" + ("_partial" if when in ("during", "after")
                                            and short != "not_installed" else "")
        log.warning("event=receipt_not_printed kind=%s mode=%s reason=%s when=%s detail=%s",
                    doc.kind or "-", self.mode, reason, when, _q(detail))
        with self._lock:
            self._failures.append(PrintFailure(self._now(), doc.kind, reason, when, detail))
        if short != "not_installed":
            self._alert(reason, detail)
        return PrintOutcome(False, key, when, doc.reference, reason)

    def _observe(self, status: PrinterStatus) -> None:
        # Near end is reported while receipts still print: that is when staff can act in time.
        if status.ready and status.paper is PaperLevel.OK:
            with self._lock:
                self._alerted = ""
        elif status.reason:
            self._alert(status.reason, status.detail)

    def _alert(self, reason: str, detail: str) -> None:
        with self._lock:
            if self._alerted == reason:
                return
            self._alerted = reason
        log.warning("event=staff_alert device=printer reason=%s detail=%s", reason, _q(detail))
        if self._alerts is None:
            return
        try:
            self._alerts(StaffAlert("printer", reason, detail))
        except Exception as exc:  # the beacon failing must not fail the receipt
            log.error("event=staff_alert_failed reason=%s error=%s", reason, _q(_describe(exc)))


def print_test_receipts(
    service: PrintService, cfg: Any, now: datetime | None = None
) -> list[PrintOutcome]:
    """The technician's test: one receipt in Chinese, one in English; stops at a failure.

    For `kiosk printer test` and the maintenance menu's printer page.
    """
    now = now or datetime.now()
    code = re.sub(r"[^A-Z0-9]", "", cfg["kiosk.id"].upper()) or "KIOSK"
    reference = f"TEST-{code}-{now:%Y%m%d%H%M%S}"
    outcomes: list[PrintOutcome] = []
    for lang in ("zh_CN", "en"):
        doc = printer_test(ReceiptContext.from_config(cfg, lang, now), reference=reference,
                           mode=service.mode, paper_mm=cfg["printer.paper_mm"])
        outcomes.append(service.print_receipt(doc))
        if not outcomes[-1].printed:
            break  # the second receipt would fail the same way
    return outcomes
