"""The scanner's side of the line: a pseudo-terminal whose slave side the kiosk opens as it would
open /dev/ttyACM0, written from the master side when a code is "shown" to the scanner.

A scanner sends and never listens in this mode: whatever the kiosk writes is read and ignored.
Writes go out in 64-byte pieces (a full-speed USB CDC bulk packet) so a reader sees a code arrive
in chunks, as it does from a real scanner.
"""

from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import tty

log = logging.getLogger(__name__)

SUFFIXES = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "none": b""}
FAULTS = ("garbage", "partial", "long")
PACKET = 64  # bytes per USB full-speed bulk packet
LONG_CHARS = 600  # a "very long code": more than any code the kiosk takes


class ScannerSim:
    """Open with `ScannerSim().start()`; `.device` is the path to open; `scan(text)` shows a code."""

    def __init__(self, suffix: str = "cr", prefix: bytes = b"", packet_gap_s: float = 0.002,
                 seed: int = 0) -> None:
        self.set_suffix(suffix)
        self.prefix = prefix
        self.packet_gap_s = packet_gap_s
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no CR -> LF: bytes as they are
        self.device = os.ttyname(self.slave)
        self.scans = 0
        self.faults_sent = 0
        self.bytes_from_host = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="scanner-sim", daemon=True)

    def start(self) -> ScannerSim:
        self._thread.start()
        log.info("event=scanner_sim_ready device=%s", self.device)
        return self

    # ------------------------------------------------------------------ the API tests use
    def set_suffix(self, suffix: str) -> None:
        if suffix not in SUFFIXES:
            raise ValueError(f"unknown suffix {suffix!r}; one of {', '.join(SUFFIXES)}")
        self.suffix = suffix

    def set_prefix(self, prefix: bytes) -> None:
        self.prefix = prefix

    def scan(self, text: str) -> None:
        """The scanner decodes `text` and sends it: prefix, the UTF-8 text, the suffix."""
        self._send(self.prefix + text.encode("utf-8") + SUFFIXES[self.suffix])
        self.scans += 1

    def fault(self, name: str, text: str = "") -> None:
        """garbage: control and high bytes then the suffix; partial: the first half of `text` (or
        of a code) and nothing more; long: a code of LONG_CHARS characters and the suffix."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; one of {', '.join(FAULTS)}")
        if name == "garbage":
            noise = bytes(self.rng.choice([*range(0x01, 0x09), 0x1B, 0x7F, *range(0x80, 0xA0), 0xFF])
                          for _ in range(24))
            data = self.prefix + b"ES" + noise + b"C1" + SUFFIXES[self.suffix]
        elif name == "partial":
            body = (text or "ESSC1.partial-transmission-of-a-code").encode("utf-8")
            data = self.prefix + body[:max(1, len(body) // 2)]
        else:
            data = self.prefix + (text or "X").encode("utf-8")[:1] * LONG_CHARS + SUFFIXES[self.suffix]
        self._send(data)
        self.faults_sent += 1

    def send_raw(self, data: bytes) -> None:
        """Exactly these bytes on the line (a test's own framing)."""
        self._send(data)

    def status(self) -> str:
        return (f"suffix={self.suffix} prefix={self.prefix.hex() or '-'} scans={self.scans} "
                f"faults={self.faults_sent} bytes_from_host={self.bytes_from_host}")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> ScannerSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ScannerSim {self.device} {self.status()}>"

    # ------------------------------------------------------------------ the line
    def _send(self, data: bytes) -> None:
        with self.lock:
            for at in range(0, len(data), PACKET):
                os.write(self.master, data[at:at + PACKET])
                if self.packet_gap_s and at + PACKET < len(data):
                    time.sleep(self.packet_gap_s)

    def _drain(self) -> None:
        """Read what the host writes (a scanner in this mode takes no commands) so it never fills."""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                self.bytes_from_host += len(os.read(self.master, 4096))
            except OSError:
                return
