"""Writes each sheet that leaves the printer as receipt-NNNN.png, .bin (raw bytes) and .txt."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .kvlog import log_event
from .paper import Sheet, TextLine
from .render import render_sheet


@dataclass(frozen=True)
class Receipt:
    """A sheet as written to disk, with what tests need to check it."""

    index: int
    png: Path
    bin: Path
    txt: Path
    cut: str  # "full", "partial", "none" (torn off: paper out, simulator stopped), "overflow"
    text: str  # the transcript: printed text lines plus [image]/[qr]/[cut] markers
    lines: tuple[TextLine, ...]
    qr_payloads: tuple[str, ...]  # data of native QR codes (raster QR codes are just images)
    width_dots: int
    height_dots: int

    @property
    def complete(self) -> bool:
        """True when the printer cut it off normally."""
        return self.cut in ("full", "partial")


class ReceiptStore:
    """Numbers receipts after any already in the folder, so a restart never overwrites one."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        found = [int(m.group(1)) for p in self.out_dir.glob("receipt-*.png")
                 if (m := re.fullmatch(r"receipt-(\d+)\.png", p.name))]
        self._next = max(found, default=0) + 1
        self._lock = threading.Lock()

    def write(self, sheet: Sheet) -> Receipt:
        """Render and save one sheet; returns the receipt record."""
        with self._lock:
            index, self._next = self._next, self._next + 1
        stem = self.out_dir / f"receipt-{index:04d}"
        png, raw, txt = stem.with_suffix(".png"), stem.with_suffix(".bin"), stem.with_suffix(".txt")
        image = render_sheet(sheet)
        image.save(png, optimize=False)
        raw.write_bytes(sheet.raw)
        text = "\n".join(sheet.transcript) + "\n"
        txt.write_text(text, encoding="utf-8")
        log_event(
            "receipt_written", index=index, path=png, cut=sheet.cut,
            height_dots=sheet.height_dots, qr=len(sheet.qr_payloads), bytes=len(sheet.raw),
        )
        return Receipt(
            index, png, raw, txt, sheet.cut, text, sheet.lines, sheet.qr_payloads,
            sheet.width_dots, sheet.height_dots,
        )
