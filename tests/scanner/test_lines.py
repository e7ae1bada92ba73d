"""Scanner lines as bytes arrive: terminators, prefixes, and what is refused (pure, no I/O)."""

from __future__ import annotations

import pytest

from kiosk.hw.scanner_lines import MAX_CODE_CHARS, Line, LineAssembler, parse_prefix
from kiosk.hw.scanner_serial import DEFAULT_BAUD, parse_serial_spec

TOKEN = "ESSC1.eyJhIjoiMDEyMzQ1Njc4OUFCQ0RFRiJ9.q2aHcZ0Ga3Ywr0fXMCPXfA"


def codes(lines: list[Line]) -> list[str | None]:
    return [line.code for line in lines]


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n"])
def test_auto_takes_each_terminator_and_crlf_is_one_end(end):
    lines = LineAssembler().feed(TOKEN.encode() + end + b"second" + end)
    assert codes(lines) == [TOKEN, "second"]


def test_a_code_arriving_one_byte_at_a_time_comes_out_once_whole():
    assembler = LineAssembler("crlf")
    out: list[Line] = []
    for b in (TOKEN + "\r\n").encode():
        out += assembler.feed(bytes([b]))
        if len(out) == 0:
            assert assembler.pending > 0
    assert codes(out) == [TOKEN] and assembler.pending == 0


def test_an_explicit_suffix_is_the_only_end_and_other_control_bytes_reject_the_line():
    assembler = LineAssembler("crlf")
    assert codes(assembler.feed(b"abc\rdef\r\n")) == [None]
    assert assembler.feed(b"x\n\r\n")[0].why == "non_printable"
    assert codes(assembler.feed(b"ok\r\n")) == ["ok"]
    assert codes(LineAssembler("lf").feed(b"a\rb\nc\n")) == [None, "c"]


def test_a_prefix_is_removed_and_a_line_without_it_is_refused():
    assembler = LineAssembler("cr", prefix=b"\x02")
    assert codes(assembler.feed(b"\x02" + TOKEN.encode() + b"\r")) == [TOKEN]
    refused = assembler.feed(TOKEN.encode() + b"\r")
    assert refused == [Line(None, "no_prefix", len(TOKEN))]
    assert parse_prefix("02") == b"\x02" and parse_prefix("]Q1") == b"]Q1" and parse_prefix("none") == b""


@pytest.mark.parametrize(("raw", "why"), [
    (b"ESSC1.\x00abc", "non_printable"), (b"ESSC1.\x1b[2Jabc", "non_printable"), (b"abc\x7f", "non_printable"),
    (b"\xff\xfeESSC1", "not_utf8"), ("ab\u0085c".encode(), "non_printable"),
])
def test_control_bytes_and_bad_utf8_refuse_the_whole_line(raw, why):
    lines = LineAssembler().feed(raw + b"\r")
    assert lines == [Line(None, why, len(raw))]


def test_text_in_chinese_is_a_code():
    assert codes(LineAssembler().feed("社保卡 123\r".encode())) == ["社保卡 123"]


def test_a_line_over_the_bound_is_refused_with_its_terminator_in_the_same_read():
    exact = "A" * MAX_CODE_CHARS
    assert codes(LineAssembler().feed(exact.encode() + b"\r")) == [exact]
    assert LineAssembler().feed(exact.encode() + b"A\r")[0].why == "too_long"


def test_a_line_that_never_ends_is_refused_once_and_its_tail_is_dropped():
    assembler = LineAssembler()
    out: list[Line] = []
    for _ in range(40):  # 40 x 64 = 2,560 bytes, no terminator
        out += assembler.feed(b"B" * 64)
    assert [line.why for line in out] == ["too_long"] and assembler.pending == 0
    # the rest of that line, then a good one: only the good one comes out
    assert codes(assembler.feed(b"BBBB\r" + TOKEN.encode() + b"\r")) == [TOKEN]


def test_empty_lines_are_skipped_and_a_partial_can_be_dropped():
    assembler = LineAssembler()
    assert assembler.feed(b"\r\n\r\n") == []
    assembler.feed(b"ESSC1.half")
    assert assembler.pending == 10 and assembler.drop_partial() == 10
    assert codes(assembler.feed(b"whole\r")) == ["whole"]


def test_serial_specs():
    assert parse_serial_spec("serial:/dev/ttyACM0") == ("/dev/ttyACM0", DEFAULT_BAUD, "auto", b"")
    assert parse_serial_spec("serial:/dev/ttyUSB1:115200,suffix=crlf,prefix=02") == (
        "/dev/ttyUSB1", 115200, "crlf", b"\x02")
    for bad in ("serial:", "usb:1", "serial:/dev/x:0", "serial:/dev/x,suffix=tab", "serial:/dev/x,speed=9"):
        with pytest.raises(ValueError):
            parse_serial_spec(bad)
    with pytest.raises(ValueError):
        LineAssembler("tab")
