"""Printer tests: the real adapter (python-escpos over TCP) against the printer simulator."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from kiosk import config
from kiosk.hw.printer_escpos import EscposPrinter, PrinterSpec
from kiosk.services import receipts as R
from kiosk.services.printing import PrintService, StaffAlert
from kiosk.sync.reference import format_reference
from simulators.printer import PrinterSimulator

ID_NUMBER = "11010519491231002X"
NAME = "张小明"
REF = format_reference("KIOSK-0007", date(2025, 3, 14), 42)
WHEN = datetime(2025, 3, 14, 9, 30)
BUREAU = "北京市朝阳区社会保险事业管理局"
KIOSK_ID = "KIOSK-0007"
WIDTHS = {58: 384, 80: 576}


def context(lang: str = "zh_CN") -> R.ReceiptContext:
    return R.ReceiptContext(BUREAU, KIOSK_ID, WHEN, lang)


def every_kind(lang: str = "zh_CN") -> dict[str, R.ReceiptDocument]:
    """One receipt of every kind, variants included, for the same citizen."""
    ctx = context(lang)
    who = {"id_number": ID_NUMBER, "name": NAME, "reference": REF}
    rows = [R.PaymentRow("pension", "2019-01", "2024-05", 65),
            R.PaymentRow("medical", "2019-01", "2024-05", 63, arrears_months=2)]
    return {
        "pension_auth": R.pension_auth(ctx, **who, verdict=R.Verdict.PASSED,
                                       valid_until=date(2026, 3, 13)),
        "pension_auth_queued": R.pension_auth(ctx, **who, verdict=R.Verdict.QUEUED),
        "family_auth_not_passed": R.pension_auth(ctx, **who, verdict=R.Verdict.NOT_PASSED,
                                                 family=True),
        "annual_review": R.annual_review(ctx, **who, verdict=R.Verdict.PASSED),
        "card_activation": R.card_activation(ctx, **who),
        "pin_changed": R.pin_changed(ctx, **who),
        "pin_reset": R.pin_changed(ctx, **who, reset=True),
        "card_loss": R.card_loss(ctx, **who, expires=date(2025, 4, 13)),
        "card_loss_queued": R.card_loss(ctx, **who, expires=date(2025, 4, 13), queued=True),
        "card_application": R.card_application(ctx, **who, outlet="工商银行朝阳路支行"),
        "payment_records": R.payment_records(ctx, **who, rows=rows),
        "pension_payments": R.pension_payments(
            ctx, **who, bank="中国工商银行", account="6222020200112233445", first="2024-01",
            last="2024-06", months=6, total_cents=2_100_000, last_month="2024-06",
            last_cents=350_000),
        "printer_test": R.printer_test(ctx, reference=REF, mode="gb18030", paper_mm=58),
    }


def make_config(**overrides: object) -> config.Config:
    values = {"kiosk.id": KIOSK_ID, "kiosk.bureau_name": BUREAU, **overrides}
    return config.load(None, environ={}, overrides=values)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[PrinterSimulator]:
    with PrinterSimulator(port=0, out_dir=tmp_path / "printer", width_dots=384,
                          control_port=0, idle_timeout=5) as s:
        yield s


@pytest.fixture
def sim80(tmp_path: Path) -> Iterator[PrinterSimulator]:
    with PrinterSimulator(port=0, out_dir=tmp_path / "printer80", width_dots=576,
                          idle_timeout=5) as s:
        yield s


def adapter(port: int, paper_mm: int = 58) -> EscposPrinter:
    return EscposPrinter(PrinterSpec("tcp", host="127.0.0.1", port=port), paper_mm=paper_mm,
                         timeout_s=2.0)


def service(port: int, mode: str = "gb18030", paper_mm: int = 58,
            alerts: Callable[[StaffAlert], None] | None = None) -> PrintService:
    cfg = make_config(**{"printer.text_mode": mode, "printer.paper_mm": paper_mm})
    return PrintService(adapter(port, paper_mm), cfg, alerts)


def decoded(png: Path) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(png))]


def squeeze(text: str) -> str:
    """Without whitespace: wrapped and right-aligned lines join up again."""
    return "".join(text.split())


@contextmanager
def log_lines(name: str) -> Iterator[list[str]]:
    """Messages logged on one logger, whatever kiosk.runtime.logs did to propagation."""
    lines: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger, handler = logging.getLogger(name), Grab(logging.DEBUG)
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
