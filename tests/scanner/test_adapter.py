"""The kiosk's scanner adapter against the simulated scanner on a pty: codes, each terminator and
a prefix, and each fault (garbage, a partial line, a very long code)."""

from __future__ import annotations

import threading
import time

import pytest

from kiosk.hw.health import HealthState
from kiosk.hw.ports import BarcodeScanner, Device
from kiosk.hw.scanner_errors import ScannerFault, ScanRejected
from kiosk.hw.scanner_serial import SerialBarcodeScanner, open_line
from simulators.scanner import ScannerSim
from tests.scanner.conftest import LINE_GAP_S

TOKEN = "ESSC1.eyJhIjoiMDEyMzQ1Njc4OUFCQ0RFRiIsImUiOjE3NTEyNzA0NjAsImkiOjE3NTEyNzA0MDAsIm4iOiIwMTIzNDU2Nzg5YWJjZGVmIn0.q2aHcZ0Ga3Ywr0fXMCPXfA"


def test_a_scanned_code_is_read_exactly_and_only_once(sim, scanner):
    sim.scan(TOKEN)
    assert scanner.read_code(2.0) == TOKEN
    started = time.monotonic()
    assert scanner.read_code(0.3) is None
    assert 0.25 <= time.monotonic() - started < 1.5
    assert scanner.codes == 1 and "codes=1" in repr(scanner)


def test_the_adapter_is_its_port_and_says_its_state(scanner):
    assert isinstance(scanner, BarcodeScanner) and isinstance(scanner, Device)
    assert scanner.health().state is HealthState.OK
    assert "state=ok" in repr(scanner) and "suffix=auto" in repr(scanner)


def test_a_code_scanned_while_waiting_is_returned_then(sim, scanner):
    threading.Timer(0.3, sim.scan, args=(TOKEN,)).start()
    started = time.monotonic()
    assert scanner.read_code(3.0) == TOKEN
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("suffix", ["cr", "lf", "crlf"])
def test_each_terminator_ends_a_code(sim, scanner, suffix):
    sim.set_suffix(suffix)
    sim.scan("first")
    sim.scan(TOKEN)
    assert [scanner.read_code(2.0), scanner.read_code(2.0), scanner.read_code(0.2)] == ["first", TOKEN, None]


def test_a_configured_prefix_and_suffix_are_taken_off(sim):
    sim.set_prefix(b"\x02")
    sim.set_suffix("crlf")
    with SerialBarcodeScanner(open_line(sim.device, 9600), sim.device, suffix="crlf", prefix=b"\x02") as scanner:
        sim.scan(TOKEN)
        assert scanner.read_code(2.0) == TOKEN


def test_garbage_is_a_typed_rejection_and_the_next_code_reads(sim, scanner, caplog):
    sim.fault("garbage")
    with caplog.at_level("WARNING", logger="kiosk.hw.scanner_serial"):
        with pytest.raises(ScanRejected) as caught:
            scanner.read_code(2.0)
    assert caught.value.why == "non_printable" and "result=rejected why=non_printable" in caplog.text
    sim.scan(TOKEN)
    assert scanner.read_code(2.0) == TOKEN
    assert scanner.rejected == 1


def test_a_very_long_code_is_refused_whole_never_cut_to_size(sim, scanner):
    sim.fault("long", "E")
    with pytest.raises(ScanRejected, match="too_long"):
        scanner.read_code(3.0)
    sim.scan(TOKEN)
    assert scanner.read_code(2.0) == TOKEN


def test_a_partial_line_is_dropped_with_a_log_line_and_never_glued_to_the_next(sim, scanner, caplog):
    sim.fault("partial", TOKEN)
    with caplog.at_level("WARNING", logger="kiosk.hw.scanner_serial"):
        assert scanner.read_code(LINE_GAP_S * 3) is None
    assert "result=partial_dropped" in caplog.text and scanner.partials == 1
    sim.scan(TOKEN)
    assert scanner.read_code(2.0) == TOKEN  # not half a token + a token


def test_a_partial_line_at_the_timeout_is_dropped_before_returning(sim, scanner):
    sim.fault("partial", TOKEN)
    time.sleep(0.05)
    started = time.monotonic()
    assert scanner.read_code(0.01) is None  # waited for the rest (the gap), then dropped it
    assert time.monotonic() - started < LINE_GAP_S + 0.5
    assert scanner.last_event == "partial_dropped"
    time.sleep(LINE_GAP_S * 2)
    sim.scan("next")
    assert scanner.read_code(2.0) == "next"


def test_a_code_still_arriving_at_the_deadline_is_read_whole(sim, scanner):
    sim.packet_gap_s = 0.03  # the token spans 3 USB packets, 60 ms end to end
    sender = threading.Thread(target=sim.scan, args=(TOKEN * 1,))
    sender.start()
    time.sleep(0.01)
    assert scanner.read_code(0.02) == TOKEN
    sender.join()


def test_clear_forgets_codes_scanned_before(sim, scanner):
    sim.scan("left by the previous citizen")
    time.sleep(0.1)
    scanner.clear()
    assert scanner.read_code(0.2) is None
    sim.scan(TOKEN)
    assert scanner.read_code(2.0) == TOKEN


def test_the_scanner_never_writes_to_the_line(sim, scanner):
    sim.scan(TOKEN)
    scanner.read_code(2.0)
    scanner.clear()
    time.sleep(0.2)
    assert sim.bytes_from_host == 0


def test_a_line_that_fails_is_a_scanner_fault_and_health_says_offline(sim, scanner):
    scanner.line.close()  # what pyserial does when the device is pulled: reads raise
    with pytest.raises(ScannerFault):
        scanner.read_code(0.5)
    assert scanner.health().state is HealthState.OFFLINE
    assert scanner.health().reason == "health.scanner.offline"


def test_a_gone_device_is_offline_without_asking_it():
    sim = ScannerSim().start()
    scanner = SerialBarcodeScanner(open_line(sim.device, 9600), sim.device)
    try:
        assert scanner.health().state is HealthState.OK
        sim.close()  # the pty disappears, as /dev/ttyACM0 does when unplugged
        assert scanner.health().state is HealthState.OFFLINE and "is gone" in scanner.health().detail
    finally:
        scanner.close()


def test_closing_closes_the_line_and_is_idempotent(scanner):
    scanner.close()
    scanner.close()
    assert scanner.closed and not scanner.line.is_open
    assert scanner.health().state is HealthState.OFFLINE
