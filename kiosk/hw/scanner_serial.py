"""The barcode scanner adapter: a scanner in its USB-serial mode (USB CDC / virtual COM, or a
real RS-232 port) sending each decoded code as a line, over pyserial (imported lazily), for
`devices.scanner = serial:DEVICE[:BAUD][,suffix=auto|cr|lf|crlf][,prefix=HEX]`; or the simulator
on a pseudo-terminal for `sim` (simulators/scanner, imported only then).

No command is ever sent: the scanner speaks when a code is shown to it. read_code() returns each
code once; what is not a code is a typed ScanRejected (logged without its text), a line begun and
never ended is dropped with a log line. Keyboard (HID) mode is not supported: docs/scanner.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, NoReturn

from kiosk.hw.health import DeviceHealth
from kiosk.hw.scanner_errors import ScannerFault, ScanRejected
from kiosk.hw.scanner_lines import SUFFIXES, LineAssembler, parse_prefix

log = logging.getLogger(__name__)

DEFAULT_BAUD = 9600  # the usual factory setting of a scanner's serial mode; CDC ignores it
READ_CHUNK_S = 0.05  # pyserial's own read timeout, so a deadline is checked often
# Bytes of one code arrive back to back (512 characters take 0.53 s at 9600 baud, with no gap);
# a line still unfinished after this long without a byte is a partial transmission.
LINE_GAP_S = 0.3


def parse_serial_spec(spec: str) -> tuple[str, int, str, bytes]:
    """`serial:DEVICE[:BAUD][,suffix=..][,prefix=..]` -> (device, baud, suffix, prefix);
    ValueError with the reason."""
    head, *options = spec.split(",")
    prefix_name, _, rest = head.partition(":")
    if prefix_name != "serial" or not rest:
        raise ValueError(f"expected serial:DEVICE[:BAUD], got {spec!r}")
    device, sep, baud_text = rest.rpartition(":")
    baud = DEFAULT_BAUD
    if sep and baud_text.isdigit():
        baud = int(baud_text)
        if not 0 < baud <= 4_000_000:
            raise ValueError(f"bad baud rate in {spec!r}")
    else:
        device = rest
    suffix, prefix = "auto", b""
    for option in options:
        key, eq, value = option.partition("=")
        if key == "suffix" and eq and value in SUFFIXES:
            suffix = value
        elif key == "prefix" and eq:
            prefix = parse_prefix(value)
        else:
            raise ValueError(f"bad scanner option {option!r} in {spec!r} (suffix=auto|cr|lf|crlf, prefix=HEX)")
    return device, baud, suffix, prefix


class SerialBarcodeScanner:
    """A BarcodeScanner over a serial line (anything with pyserial's read/reset_input_buffer)."""

    name = "scanner"

    def __init__(self, line: Any, device: str, baud: int = DEFAULT_BAUD, *, suffix: str = "auto",
                 prefix: bytes = b"", sim: Any = None, line_gap_s: float = LINE_GAP_S) -> None:
        self.line, self.device, self.baud, self.sim = line, device, baud, sim
        self.lines = LineAssembler(suffix, prefix)
        self.line_gap_s = line_gap_s
        self._lock = threading.Lock()
        self._ready: list[str] = []
        self._health = DeviceHealth.ok(f"{device} open")
        self._last_byte = 0.0
        self.codes = 0
        self.rejected = 0
        self.partials = 0
        self.last_event = "opened"
        self.closed = False

    # ------------------------------------------------------------------ the port
    def read_code(self, timeout_s: float) -> str | None:
        """The next code scanned, waiting up to timeout_s; None when none came. A code still
        arriving at the deadline is waited for (at most line_gap_s after its last byte), so no
        half line is ever left for the next call. Raises ScanRejected for a line that is not a
        code, ScannerFault when the line fails."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                if self._ready:
                    self.codes += 1
                    self.last_event = "code"
                    return self._ready.pop(0)
                self._pump()
                if self._ready:
                    continue
                now = time.monotonic()
                if self.lines.pending and now - self._last_byte >= self.line_gap_s:
                    self._drop_partial("gap")
                if now >= deadline and not self.lines.pending:
                    return None
                # past the deadline with a line begun: it finishes, or the gap drops it, first

    def clear(self) -> None:
        """Forget what was scanned before now (codes unread, a line begun, bytes in the line)."""
        with self._lock:
            try:
                self.line.reset_input_buffer()
            except OSError as exc:
                self._fault(exc)
            dropped = len(self._ready)
            self._ready.clear()
            partial = self.lines.drop_partial()
            if dropped or partial:
                log.info("event=scanner_cleared codes=%d partial_bytes=%d", dropped, partial)

    def health(self) -> DeviceHealth:
        if not self.closed and not os.path.exists(self.device):
            return DeviceHealth.offline("health.scanner.offline", f"{self.device} is gone (unplugged?)")
        return self._health

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._health = DeviceHealth.offline("health.scanner.offline", "closed")
        try:
            self.line.close()
        finally:
            if self.sim is not None:
                self.sim.close()
        log.info("event=device_closed device=scanner port=%s codes=%d rejected=%d", self.device, self.codes,
                 self.rejected)

    def __enter__(self) -> SerialBarcodeScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        h = self.health()
        return (f"<SerialBarcodeScanner {self.device} baud={self.baud} suffix={self.lines.suffix} "
                f"prefix={self.lines.prefix.hex() or '-'} state={h.state.value} reason={h.reason or '-'} "
                f"last={self.last_event} codes={self.codes} rejected={self.rejected} partials={self.partials} "
                f"pending={self.lines.pending + len(self._ready)} sim={self.sim is not None} closed={self.closed}>")

    # ------------------------------------------------------------------ bytes
    def _pump(self) -> None:
        """One read of the line (up to READ_CHUNK_S): its lines judged; a rejected one raises."""
        try:
            if not self.line.is_open:
                raise OSError("the port is closed")
            waiting = self.line.in_waiting
            data: bytes = self.line.read(max(1, min(waiting, 4096)))
        except OSError as exc:  # pyserial's SerialException is an OSError: unplugged
            self._fault(exc)
        if not data:
            return
        self._last_byte = time.monotonic()
        if self._health.reason:
            self._health = DeviceHealth.ok(f"{self.device} answering again")
        rejected = None
        for line in self.lines.feed(data):
            if line.code is not None:
                self._ready.append(line.code)
            else:
                self.rejected += 1
                self.last_event = f"rejected:{line.why}"
                log.warning("event=scanner_line result=rejected why=%s bytes=%d", line.why, line.length)
                rejected = rejected or line
        if rejected is not None and not self._ready:
            raise ScanRejected(rejected.why, f"{rejected.why}: a line of {rejected.length} bytes")

    def _drop_partial(self, why: str) -> None:
        n = self.lines.drop_partial()
        self.partials += 1
        self.last_event = "partial_dropped"
        log.warning("event=scanner_line result=partial_dropped why=%s bytes=%d", why, n)

    def _fault(self, exc: OSError) -> NoReturn:
        self._health = DeviceHealth.offline("health.scanner.offline", f"{self.device}: {exc}")
        self.last_event = "line_failed"
        raise ScannerFault(f"serial line {self.device} failed: {exc}") from exc


def open_scanner(spec: str, cfg: Any = None) -> SerialBarcodeScanner:
    """Registry entry point: `serial:DEVICE[:BAUD][,suffix=..][,prefix=..]`, or `sim` (attach to
    the simulator whose pty KIOSK_SIM_SCANNER_DEVICE names, else start one in this process)."""
    sim = None
    suffix, prefix = "auto", b""
    if spec == "sim":
        device, baud = os.environ.get("KIOSK_SIM_SCANNER_DEVICE", ""), DEFAULT_BAUD
        if not device:
            from simulators.scanner import ScannerSim

            sim = ScannerSim().start()
            device = sim.device
    else:
        device, baud, suffix, prefix = parse_serial_spec(spec)
    return SerialBarcodeScanner(open_line(device, baud), device, baud, suffix=suffix, prefix=prefix, sim=sim)


def open_line(device: str, baud: int) -> Any:
    import serial  # pyserial, lazily: the package imports on any machine

    return serial.Serial(device, baudrate=baud, timeout=READ_CHUNK_S)
