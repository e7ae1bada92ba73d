"""Golden bytes: exactly what crosses the wire for a fixed receipt, in both print modes.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/printer/test_golden.py`
and review the diff of the hex dumps. The raster golden depends on Pillow's bundled FreeType
and the Noto Sans SC font from pygame_gui (a new version of either may move a pixel), never on
what the system has installed: fonts load with an explicit layout engine (test_layout_engine.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from escpos.printer import Dummy

from kiosk.hw.printer_escpos import emit, fit_profile
from kiosk.services import receipts as R
from kiosk.services.printing import receipt_ops

from .conftest import ID_NUMBER, NAME, REF, context

GOLDEN = Path(__file__).parent / "golden"


def fixed_receipt() -> R.ReceiptDocument:
    return R.pension_auth(context("zh_CN"), id_number=ID_NUMBER, name=NAME, reference=REF,
                          verdict=R.Verdict.PASSED)


def wire_bytes(mode: str, width_dots: int = 384) -> bytes:
    d = Dummy()
    fit_profile(d, width_dots)
    emit(d, receipt_ops(fixed_receipt(), mode, width_dots), cut=True)
    return d.output


@pytest.mark.parametrize("mode", ["gb18030", "raster"])
def test_exact_bytes(mode):
    """GIVEN a fixed receipt, time and reference WHEN rendered for 58 mm THEN the bytes are the
    golden ones, byte for byte."""
    got = wire_bytes(mode)
    path = GOLDEN / f"pension_auth_{mode}_58mm.bin"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(got)
    want = path.read_bytes()
    if got != want:
        same = min(len(got), len(want))
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), same)
        pytest.fail(f"{mode}: {len(got)} bytes vs golden {len(want)}; first difference at {at}: "
                    f"got {got[at:at + 16].hex()} want {want[at:at + 16].hex()}")


def test_text_mode_golden_starts_in_chinese_mode_and_cuts():
    """The parts of the golden that matter most, spelled out, so a regeneration cannot hide them."""
    data = (GOLDEN / "pension_auth_gb18030_58mm.bin").read_bytes()
    assert data.startswith(b"\x1b\x40\x1c\x26")  # ESC @, then FS & (Chinese mode)
    assert "养老保险待遇资格认证".encode("gb18030") in data
    assert "张*明".encode("gb18030") in data and b"1101**********002X" in data
    assert b"\x1d(k" in data and REF.encode() in data  # native QR with the reference
    assert data.endswith(b"\x1dV\x00")  # full cut
    raster = (GOLDEN / "pension_auth_raster_58mm.bin").read_bytes()
    assert raster.startswith(b"\x1b\x40\x1c\x26") and b"\x1dv0" in raster
    assert NAME.encode("gb18030") not in raster and REF.encode() not in raster


def test_cut_and_chinese_mode_follow_config():
    d = Dummy()
    emit(d, receipt_ops(fixed_receipt(), "gb18030", 384), cut=True, cut_mode="partial",
         chinese_mode=False)
    assert d.output.startswith(b"\x1b\x40\x1d!") and b"\x1c\x26" not in d.output
    assert d.output.endswith(b"\x1dV\x01")
