"""Writes the sample receipts in docs/receipts/ by printing them to the simulator, as a kiosk would.

    .venv/bin/python -m tests.printer.samples docs/receipts
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from simulators.printer import PrinterSimulator

from .conftest import every_kind, service

# (kind, language, mode, paper mm)
SAMPLES = (
    ("pension_auth_queued", "zh_CN", "gb18030", 58),
    ("pension_auth", "en", "gb18030", 58),
    ("card_loss_queued", "zh_CN", "raster", 58),
    ("pin_changed", "en", "raster", 58),
    ("payment_records", "zh_CN", "gb18030", 80),
    ("card_application", "en", "gb18030", 80),
    ("pension_payments", "zh_CN", "raster", 80),
    ("card_loss", "en", "raster", 80),
)


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mm, dots in ((58, 384), (80, 576)):
            with PrinterSimulator(port=0, out_dir=Path(tmp) / str(mm), width_dots=dots) as sim:
                for kind, lang, mode, paper in SAMPLES:
                    if paper != mm:
                        continue
                    before = len(sim.receipts)
                    outcome = service(sim.port, mode=mode, paper_mm=mm).print_receipt(
                        every_kind(lang)[kind])
                    assert outcome.printed, outcome
                    receipt = sim.wait_for_receipts(before + 1)[-1]
                    target = out / f"{kind}-{lang}-{mode}-{mm}mm.png"
                    shutil.copyfile(receipt.png, target)
                    written.append(target)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1] if sys.argv[1:] else "docs/receipts")):
        print(path)
