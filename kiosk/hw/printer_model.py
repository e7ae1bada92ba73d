"""What crosses the receipt printer port: the operations a receipt is made of, and the printer's
state as DLE EOT reports it (Epson bit layout). Plain values; no printer library here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from kiosk.hw.health import DeviceHealth

if TYPE_CHECKING:
    from PIL import Image

DOTS_PER_LINE = {58: 384, 80: 576}


class PaperLevel(StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


@dataclass(frozen=True)
class PrinterStatus:
    """What DLE EOT said; `reason` is a message key for the UI, empty when all is well."""

    online: bool
    paper: PaperLevel
    cover_open: bool
    reason: str = ""
    detail: str = ""  # for technicians: raw status bytes or the transport error

    @property
    def ready(self) -> bool:
        """A receipt sent now would be printed."""
        return self.online and self.paper is not PaperLevel.OUT and not self.cover_open

    def health(self) -> DeviceHealth:
        if not self.ready:
            return DeviceHealth.offline(self.reason, self.detail)
        if self.paper is PaperLevel.NEAR_END:
            return DeviceHealth.degraded(self.reason, self.detail)
        return DeviceHealth.ok(self.detail)


class PrinterError(Exception):
    """A receipt was not (fully) printed; `reason` is the message key the UI explains."""

    def __init__(self, status: PrinterStatus, when: str) -> None:
        super().__init__(f"{status.reason or 'health.printer.failed'} {when} {status.detail}")
        self.status, self.when = status, when  # when: "before" or "after" the receipt was sent

    @property
    def reason(self) -> str:
        return self.status.reason or "health.printer.failed"


# -- what a receipt is made of, as the printer sees it (no social security here) ---------------


@dataclass(frozen=True)
class TextLine:
    text: str
    align: str = "left"  # left | center | right
    bold: bool = False
    width: int = 1  # character magnification 1..8
    height: int = 1


@dataclass(frozen=True)
class QrCode:
    data: str
    module_dots: int = 6
    native: bool = True  # GS ( k; False sends it as a raster image


@dataclass(frozen=True)
class Picture:
    image: Image.Image  # no wider than the paper's dots
    center: bool = False


@dataclass(frozen=True)
class Feed:
    lines: int = 1


PrintOp = TextLine | QrCode | Picture | Feed


def status_from_bytes(printer: bytes, offline_cause: bytes, paper: bytes) -> PrinterStatus:
    """Decode DLE EOT 1, 2 and 4 answers (Epson bit layout); an empty answer means silence."""
    answers = ((1, printer), (2, offline_cause), (4, paper))
    detail = " ".join(f"eot{n}={answer.hex() or '-'}" for n, answer in answers)
    if not _valid(printer):
        return PrinterStatus(False, PaperLevel.OK, False, "health.printer.offline", detail)
    cover = _valid(offline_cause) and bool(offline_cause[0] & 0x04)
    level = PaperLevel.OK
    if _valid(paper) and paper[0] & 0x60:
        level = PaperLevel.OUT
    elif _valid(paper) and paper[0] & 0x0C:
        level = PaperLevel.NEAR_END
    elif _valid(offline_cause) and offline_cause[0] & 0x20:
        level = PaperLevel.OUT  # printing stopped at paper end, even if the sensor byte is silent
    online = not printer[0] & 0x08
    reason = (
        "health.printer.cover_open" if cover
        else "health.printer.paper_out" if level is PaperLevel.OUT
        else "health.printer.offline" if not online
        else "health.printer.paper_near_end" if level is PaperLevel.NEAR_END
        else ""
    )
    return PrinterStatus(online, level, cover, reason, detail)


def _valid(answer: bytes) -> bool:
    # Bits 0/7 are always 0 and bits 1/4 always 1 in a status byte: anything else is not one.
    return len(answer) >= 1 and answer[0] & 0x93 == 0x12
