"""Receipt printing: one receipt end to end (status, data, status) to the printer simulator over
TCP, GB18030 text mode against raster mode; the ratio is what survives a change of machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from escpos.printer import Dummy

from kiosk import config
from kiosk.hw.printer_escpos import EscposPrinter, PrinterSpec, emit, fit_profile
from kiosk.services import receipts as R
from kiosk.services.printing import PrintService, render_image
from simulators.printer import PrinterSimulator

ROUNDS = 15


def _receipt() -> R.ReceiptDocument:
    ctx = R.ReceiptContext("北京市朝阳区社会保险事业管理局", "KIOSK-0007", datetime(2025, 3, 14, 9, 30))
    return R.card_loss(ctx, id_number="11010519491231002X", name="张小明",
                       reference="KIOSK0007-20250314-000042-H", expires=date(2025, 4, 13),
                       queued=True)


def _service(port: int, mode: str) -> PrintService:
    cfg = config.load(None, environ={}, overrides={"printer.text_mode": mode})
    printer = EscposPrinter(PrinterSpec("tcp", host="127.0.0.1", port=port), timeout_s=5.0)
    return PrintService(printer, cfg)


def _p50_ms(fn, rounds: int = ROUNDS) -> float:
    fn()  # warm-up: fonts, imports, first connection
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _wire_bytes(svc: PrintService, doc: R.ReceiptDocument) -> int:
    d = Dummy()
    fit_profile(d, svc.width_dots)
    emit(d, svc.ops(doc))
    return len(d.output)


def run() -> dict[str, float]:
    doc = _receipt()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, PrinterSimulator(
        port=0, out_dir=Path(tmp), width_dots=384
    ) as sim:
        for mode, key in (("gb18030", "receipt"), ("raster", "receipt_raster")):
            svc = _service(sim.port, mode)

            def once(svc: PrintService = svc, mode: str = mode) -> None:
                if not svc.print_receipt(doc).printed:
                    raise RuntimeError(f"{mode} receipt not printed")

            out[f"printer.{key}_ms_p50"] = _p50_ms(once)
            out[f"printer.{key}_bytes"] = float(_wire_bytes(svc, doc))
    out["printer.raster_render_ms_p50"] = _p50_ms(lambda: render_image(doc, 384))
    # Computed, not measured (no serial line here): a printer at the default 9600 baud 8N1 moves
    # 960 bytes a second, so raster is for USB/LAN. The name says so.
    for key in ("receipt", "receipt_raster"):
        out[f"printer.{key}_9600baud_computed_s"] = out[f"printer.{key}_bytes"] * 10 / 9600
    out["printer.raster_over_text_ratio"] = (
        out["printer.receipt_raster_ms_p50"] / out["printer.receipt_ms_p50"]
    )
    return out


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k:<36} {v:.4g}")
