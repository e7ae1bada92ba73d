"""The printer simulator, driven by python-escpos over TCP exactly as the kiosk drives a printer."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from escpos.printer import Network
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from simulators.printer import PrinterSimulator, PrinterState
from simulators.printer.machine import EscPosMachine
from simulators.printer.parser import EscPosParser
from simulators.printer.render import PAPER_DOTS, has_glyph

FS_CHINESE_ON = b"\x1c\x26"
REF = "KS01-20240601-0042-7"


@pytest.fixture
def sim(tmp_path: Path):
    with PrinterSimulator(port=0, out_dir=tmp_path, width_dots=384, idle_timeout=5) as s:
        yield s


def connect(sim: PrinterSimulator) -> Network:
    p = Network("127.0.0.1", port=sim.port, timeout=5)
    p.open()
    return p


def ink_box(png: Path, top: int, bottom: int) -> tuple[int, int, int, int] | None:
    """Bounding box of dark pixels between two rows of the rendered receipt."""
    a = np.asarray(Image.open(png).convert("L"))[top:bottom] < 128
    ys, xs = np.nonzero(a)
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()) + top, int(xs.max()), int(ys.max()) + top


def decoded(png: Path) -> set[str]:
    return {r.text for r in zxingcpp.read_barcodes(Image.open(png))}


# -- status -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "paper", "online"),
    [
        ("ok", 2, True),
        ("paper_near_end", 1, True),
        ("paper_out", 0, False),
        ("cover_open", 2, False),
        ("offline", 2, False),
    ],
)
def test_dle_eot_answers_match_state(sim, state, paper, online):
    """GIVEN the printer in a state WHEN python-escpos asks THEN it reads that state back."""
    sim.set_state(state)
    p = connect(sim)
    assert p.paper_status() == paper
    assert p.is_online() is online
    offline_cause = p.query_status(b"\x10\x04\x02")[0]
    error_cause = p.query_status(b"\x10\x04\x03")[0]
    p.close()
    assert offline_cause & 0x93 == 0x12 and error_cause & 0x93 == 0x12  # fixed bits
    assert bool(offline_cause & 0x04) == (state == "cover_open")
    assert bool(offline_cause & 0x20) == (state == "paper_out")
    assert bool(error_cause & 0x40) == (state == "offline")


def test_roll_paper_sensor_bits(sim):
    p = connect(sim)
    answers = {}
    for state in ("ok", "paper_near_end", "paper_out"):
        sim.set_state(state)
        answers[state] = p.query_status(b"\x10\x04\x04")
    p.close()
    assert answers == {"ok": b"\x12", "paper_near_end": b"\x1e", "paper_out": b"\x7e"}


# -- text ---------------------------------------------------------------------------------------


def test_chinese_bold_size_alignment(sim):
    p = connect(sim)
    p.hw("INIT")
    p._raw(FS_CHINESE_ON)  # python-escpos never enters Chinese mode itself
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text("养老资格认证\n")
    p.set(normal_textsize=True, bold=False, align="left")
    p.text("姓名：张*明\n")
    p.set(align="right")
    p.text("Kiosk 07\n")
    p.cut()
    p.close()
    (receipt,) = sim.wait_for_receipts(1)

    title, name, kiosk = receipt.lines
    assert title.text == "养老资格认证" and title.align == "center"
    (run,) = title.runs
    assert run.style.bold and (run.style.width, run.style.height) == (2, 2)
    assert name.text == "姓名：张*明" and not name.runs[0].style.bold
    assert kiosk.text == "Kiosk 07" and kiosk.align == "right"
    assert "养老资格认证" in receipt.txt.read_text(encoding="utf-8")
    assert all(has_glyph(ch, bold=True) for ch in "养老资格认证")
    assert all(has_glyph(ch) for ch in "姓名：张明")

    # The title is 6 double-width characters (288 dots) centred on the 464-dot paper.
    x0, _, x1, _ = ink_box(receipt.png, 16, 16 + title.height)
    assert abs((x0 + x1) / 2 - PAPER_DOTS[384] / 2) < 12 and 240 < x1 - x0 <= 288
    x0, _, x1, _ = ink_box(receipt.png, 16 + kiosk.y, 16 + kiosk.y + kiosk.height)
    assert x1 > PAPER_DOTS[384] - 40 - 12  # right-aligned against the printable edge


def test_chinese_without_fs_ampersand_prints_mojibake(sim):
    """GIVEN no FS & WHEN python-escpos sends GB18030 THEN the printer reads code page bytes."""
    p = connect(sim)
    p.hw("INIT")
    p.text("养老\n")
    p.cut()
    p.close()
    (receipt,) = sim.wait_for_receipts(1)
    assert "养老" not in receipt.text and len(receipt.lines[0].text) == 4


def test_lines_wrap_at_32_and_48_columns(tmp_path):
    for width, columns in ((384, 32), (576, 48)):
        with PrinterSimulator(port=0, out_dir=tmp_path / str(width), width_dots=width) as s:
            p = connect(s)
            p.text("x" * 50 + "\n" + "中" * 30 + "\n")
            p.cut()
            p.close()
            (receipt,) = s.wait_for_receipts(1)
            lengths = [len(line.text) for line in receipt.lines]
            assert lengths[0] == columns and lengths[1] == 50 - columns
            assert Image.open(receipt.png).width == PAPER_DOTS[width]


# -- images and QR codes ----------------------------------------------------------------------


def test_native_and_raster_qr_decode(sim):
    p = connect(sim)
    p.text("Native:\n")
    p.qr(REF, native=True, size=6)
    p.text("\nRaster:\n")
    p.qr("RASTER-" + REF, native=False, size=4)
    p.cut()
    p.close()
    (receipt,) = sim.wait_for_receipts(1)
    assert receipt.qr_payloads == (REF,)
    assert decoded(receipt.png) == {REF, "RASTER-" + REF}


def test_raster_image_lands_pixel_exact(sim):
    img = Image.new("RGB", (96, 40), "white")
    ImageDraw.Draw(img).rectangle((8, 8, 87, 31), fill="black")
    p = connect(sim)
    p.image(img)  # GS v 0 (bitImageRaster)
    p.image(img, impl="graphics")  # GS ( L
    p.cut()
    p.close()
    (receipt,) = sim.wait_for_receipts(1)
    assert receipt.text.count("[image 96x40]") == 2
    left = (PAPER_DOTS[384] - 384) // 2
    assert ink_box(receipt.png, 16, 16 + 40) == (left + 8, 16 + 8, left + 87, 16 + 31)
    assert ink_box(receipt.png, 16 + 40, 16 + 80) == (left + 8, 16 + 48, left + 87, 16 + 71)


# -- cuts and several receipts on one connection ----------------------------------------------


def test_several_receipts_on_one_connection(sim):
    p = connect(sim)
    for i, (mode, feed) in enumerate((("FULL", True), ("PART", True), ("FULL", False))):
        p.text(f"receipt {i}\n")
        p.cut(mode=mode, feed=feed)
    p.close()
    receipts = sim.wait_for_receipts(3)
    # cut(feed=False) sends GS V 66 0: function B, which is a partial cut.
    assert [r.cut for r in receipts] == ["full", "partial", "partial"]
    assert [r.lines[0].text for r in receipts] == ["receipt 0", "receipt 1", "receipt 2"]
    assert all(r.png.exists() and r.bin.exists() and r.txt.exists() for r in receipts)
    assert receipts[0].bin.read_bytes().endswith(b"\x1dV\x00")


# -- conditions ---------------------------------------------------------------------------------


def test_paper_out_discards_then_recovers(sim):
    sim.set_state(PrinterState.PAPER_OUT)
    p = connect(sim)
    p.text("lost\n")
    p.cut()
    assert p.paper_status() == 0  # the answer also proves the data before it was processed
    assert sim.receipts == [] and sim.discarded_bytes > 0
    sim.set_state("ok")
    p.text("after reload\n")
    p.cut()
    p.close()
    (receipt,) = sim.wait_for_receipts(1)
    assert receipt.lines[0].text == "after reload" and "lost" not in receipt.text


def test_paper_out_during_print_tears_off_partial_receipt(sim):
    p = connect(sim)
    p.text("first half\n")
    assert p.paper_status() == 2
    sim.set_state("paper_out")
    p.text("second half\n")
    p.cut()
    p.close()
    (torn,) = sim.wait_for_receipts(1)
    assert torn.cut == "none" and not torn.complete
    assert "first half" in torn.text and "second half" not in torn.text


def test_garbage_and_unknown_commands_do_not_stop_the_printer(sim):
    rng = random.Random(5)
    noise = bytes(rng.randrange(256) for _ in range(4000))
    junk = (
        b"\x1b\xff\x1d\x01\x1c\x7f\x10\x04\x09\x1b=\x01"  # unknown commands, DLE EOT 9
        + b"\x1bc5\x00\x1b=\x01\x1d(k\x03\x001C\x08"  # known but not printed
        + noise
        + b"\x1dv0\x00\xff\xff\xff\xff"  # a 4 GB raster image announced: refused, not awaited
        + b"\x1d(k\x40"  # truncated at the end of the connection
    )
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
        s.sendall(junk)
    p = connect(sim)
    p.hw("INIT")
    p.text("still printing\n")
    p.qr(REF, native=True, size=5)
    p.cut()
    p.close()
    receipts = sim.wait_for_receipts(1)
    for _ in range(50):  # the noise may contain cuts of its own; ours is the one with the QR
        if REF in receipts[-1].qr_payloads:
            break
        receipts = sim.wait_for_receipts(len(receipts) + 1)
    assert "still printing" in receipts[-1].text
    assert REF in decoded(receipts[-1].png)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_any_byte_stream_is_parsed_without_error(chunks):
    parser, machine = EscPosParser(max_payload=4096), EscPosMachine(384)
    for chunk in chunks:
        for cmd in parser.feed(chunk):
            machine.apply(cmd)
        assert parser.pending <= 4096 + 16
    parser.close()
    machine.tear_off("end")


# -- command line -------------------------------------------------------------------------------


def test_command_line_and_control_protocol(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.printer", "--port", "0", "--control-port", "0",
         "--out", str(tmp_path), "--width", "80", "--state", "paper_near_end"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = dict(kv.split("=", 1) for kv in proc.stdout.readline().split()[1:])
        assert ready["width_dots"] == "576"
        with socket.create_connection(("127.0.0.1", int(ready["control_port"])), timeout=5) as c:
            f = c.makefile("rw")

            def ask(line: str) -> str:
                f.write(line + "\n")
                f.flush()
                return f.readline().strip()

            assert ask("STATE") == "STATE paper_near_end"
            p = Network("127.0.0.1", port=int(ready["port"]), timeout=5)
            p.open()
            assert p.paper_status() == 1
            assert ask("STATE cover_open") == "OK" and not p.is_online()
            assert ask("STATE ok") == "OK" and p.is_online()
            p.text("from the command line\n")
            p.cut()
            p.close()
            assert ask("WAIT 1 5") == "COUNT 1"
            png = ask("LAST").split(" ", 1)[1]
            assert proc.stdout.readline().strip() == f"receipt {png}"
            assert ask("STATE upside_down").startswith("ERR")
            assert ask("QUIT") == "BYE"
        assert Image.open(png).width == PAPER_DOTS[576]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert "event=receipt_written" in proc.stderr.read()


warnings.filterwarnings("ignore", category=DeprecationWarning, module="escpos")
