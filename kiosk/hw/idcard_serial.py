"""The resident ID card reader adapter: a SAM-module reader speaking GA 467 frames over a
USB-serial line (pyserial, imported lazily), for `devices.idcard = serial:DEVICE[:BAUD]`, or the
simulator on a pseudo-terminal for `sim` (simulators/idcard, imported only then).

One narrow primitive, exchange(command) -> Reply; find, select and read on top of it. Every
failure is a typed IdCardError (kiosk/hw/idcard_errors.py); health() reports the last state seen,
never blocking.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from kiosk.hw import idcard_frames as fr
from kiosk.hw.health import DeviceHealth
from kiosk.hw.idcard_errors import IdCardReaderFault, IdCardRemoved, IdCardUnreadable, NoIdCard, SamUnavailable
from kiosk.hw.idcard_model import IdCardData, parse_text_block

log = logging.getLogger(__name__)

DEFAULT_BAUD = 115200
# A read (1,295 bytes at 115,200 baud, ~0.1 s, after ~1 s of card radio) fits easily; a reader
# that says nothing for this long is not answering.
REPLY_TIMEOUT_S = 3.0
POLL_S = 0.2  # between two "find card" while waiting for one
READ_CHUNK_S = 0.05  # pyserial's own read timeout, so a deadline is checked often


def parse_serial_spec(spec: str) -> tuple[str, int]:
    """`serial:DEVICE[:BAUD]` -> (device, baud); ValueError with the reason."""
    prefix, _, rest = spec.partition(":")
    if prefix != "serial" or not rest:
        raise ValueError(f"expected serial:DEVICE[:BAUD], got {spec!r}")
    device, sep, baud = rest.rpartition(":")
    if sep and baud.isdigit():
        if not 0 < int(baud) <= 4_000_000:
            raise ValueError(f"bad baud rate in {spec!r}")
        return device, int(baud)
    return rest, DEFAULT_BAUD


class SerialIdCardReader:
    """An IdCardReader over a serial line (anything with pyserial's write/read/reset_input_buffer)."""

    name = "idcard"

    def __init__(self, line: Any, device: str, baud: int = DEFAULT_BAUD, *, sim: Any = None,
                 reply_timeout_s: float = REPLY_TIMEOUT_S, poll_s: float = POLL_S) -> None:
        self.line, self.device, self.baud, self.sim = line, device, baud, sim
        self.reply_timeout_s, self.poll_s = reply_timeout_s, poll_s
        self._lock = threading.Lock()
        self._health = DeviceHealth.ok("not asked yet")
        self.last_event = "opened"
        self.reads = 0
        self.closed = False

    # ------------------------------------------------------------------ the port
    def check_sam(self) -> None:
        """Ask the SAM for its status (11 FF); raises SamUnavailable or IdCardReaderFault."""
        self._expect("sam", self.exchange(fr.SAM_STATUS), {fr.OK})
        self._health = DeviceHealth.ok(f"{self.device} SAM ok")

    def wait_for_card(self, timeout_s: float) -> bool:
        """Polls "find card" until one is there (True) or timeout_s passed (False)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._find():
                return True
            if time.monotonic() + self.poll_s > deadline:
                return False
            time.sleep(self.poll_s)

    def read(self) -> IdCardData:
        """Find, select and read the card on the reader: its text checked, the photo dropped."""
        started = time.monotonic()
        try:
            if not self._find():
                raise NoIdCard("no card on the reader")
            self._expect("select", self.exchange(fr.SELECT_CARD), {fr.OK})
            reply = self._expect("read", self.exchange(fr.READ_BASE), {fr.OK})
            text, photo = fr.split_base_message(reply.data)
            data = parse_text_block(text, photo)
            del photo, reply  # the wlt bytes go no further than this read
        except Exception as exc:
            self.last_event = f"read_failed:{type(exc).__name__}"
            log.warning("event=idcard_read result=%s reason=%s detail=%r", type(exc).__name__,
                        getattr(exc, "reason", "-"), str(exc)[:200])
            raise
        self.reads += 1
        self.last_event = "read_ok"
        log.info("event=idcard_read result=ok rare_chars=%d long_term=%d photo_length=%d ms=%d",
                 data.name_has_rare_chars, data.long_term, data.photo_length,
                 (time.monotonic() - started) * 1000)
        return data

    def health(self) -> DeviceHealth:
        return self._health

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.line.close()
        finally:
            if self.sim is not None:
                self.sim.close()
        log.info("event=device_closed device=idcard port=%s reads=%d", self.device, self.reads)

    def __enter__(self) -> SerialIdCardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        h = self._health
        return (f"<SerialIdCardReader {self.device} baud={self.baud} state={h.state.value} "
                f"reason={h.reason or '-'} last={self.last_event} reads={self.reads} "
                f"sim={self.sim is not None} closed={self.closed}>")

    # ------------------------------------------------------------------ frames
    def exchange(self, command: tuple[int, int], data: bytes = b"") -> fr.Reply:
        """One command and its reply, within reply_timeout_s; raises IdCardReaderFault when the
        reader says nothing or the line fails, IdCardUnreadable for a bad or short frame."""
        with self._lock:
            try:
                self.line.reset_input_buffer()
                self.line.write(fr.build_command(command, data))
                deadline = time.monotonic() + self.reply_timeout_s
                header = self._read_exactly(fr.HEADER_LEN, deadline, b"")
                body = self._read_exactly(fr.reply_length(header), deadline, header)
            except OSError as exc:  # pyserial's SerialException is an OSError: unplugged
                self._health = DeviceHealth.offline("health.idcard.offline", f"{self.device}: {exc}")
                raise IdCardReaderFault(f"serial line {self.device} failed: {exc}") from exc
            return fr.parse_reply(header + body)

    def _read_exactly(self, n: int, deadline: float, before: bytes) -> bytes:
        got = b""
        while len(got) < n:
            chunk = self.line.read(n - len(got))
            got += chunk
            if not chunk and time.monotonic() >= deadline:
                if not got and not before:
                    self._health = DeviceHealth.offline("health.idcard.no_reply",
                                                        f"{self.device}: no reply in {self.reply_timeout_s:g} s")
                    raise IdCardReaderFault(f"no reply within {self.reply_timeout_s:g} s")
                raise IdCardUnreadable(f"short read: {len(before) + len(got)} of "
                                       f"{len(before) + n} bytes within {self.reply_timeout_s:g} s")
        return got

    def _find(self) -> bool:
        reply = self._expect("find", self.exchange(fr.FIND_CARD), {fr.FOUND, 0x80})
        return reply.sw3 == fr.FOUND

    def _expect(self, step: str, reply: fr.Reply, wanted: set[int]) -> fr.Reply:
        """The reply when its status is one `step` may get; else the error it means."""
        sw3, what = reply.sw3, f"{step}: {reply.describe()}"
        if (reply.sw1, reply.sw2) == (0, 0) and sw3 in wanted:
            if self._health.reason in ("health.idcard.no_reply", "health.idcard.sam_missing",
                                       "health.idcard.offline"):
                self._health = DeviceHealth.ok(f"{self.device} answering again")
            return reply
        if (reply.sw1, reply.sw2) != (0, 0):
            raise IdCardUnreadable(f"unexpected status {what}")
        if sw3 in fr.SAM_FAULTS:
            self._health = DeviceHealth.offline("health.idcard.sam_missing", what)
            raise SamUnavailable(what)
        if sw3 in fr.COMMAND_REFUSED:
            raise IdCardReaderFault(f"the reader refused the command: {what}")
        if step in ("select", "read") and sw3 in (0x41, 0x80, 0x81):
            raise IdCardRemoved(what)
        raise IdCardUnreadable(f"unexpected status {what}")


def open_idcard(spec: str, cfg: Any = None) -> SerialIdCardReader:
    """Registry entry point: `serial:DEVICE[:BAUD]`, or `sim` (attach to the simulator whose pty
    KIOSK_SIM_IDCARD_DEVICE names, else start one in this process with wang's card on it)."""
    sim = None
    if spec == "sim":
        device = os.environ.get("KIOSK_SIM_IDCARD_DEVICE", "")
        baud = DEFAULT_BAUD
        if not device:
            from simulators.idcard import IdCardReaderSim

            sim = IdCardReaderSim(os.environ.get("KIOSK_SIM_IDCARD_PERSONA", "wang")).start()
            device = sim.device
    else:
        device, baud = parse_serial_spec(spec)
    reader = SerialIdCardReader(open_line(device, baud), device, baud, sim=sim)
    try:
        reader.check_sam()
    except (SamUnavailable, IdCardReaderFault, IdCardUnreadable) as exc:
        # Opened but not serving: its health says why, and the kiosk keeps running.
        log.warning("event=idcard_sam_check result=%s detail=%r", type(exc).__name__, str(exc)[:200])
    return reader


def open_line(device: str, baud: int) -> Any:
    import serial  # pyserial, lazily: the package imports on any machine

    return serial.Serial(device, baudrate=baud, timeout=READ_CHUNK_S, write_timeout=REPLY_TIMEOUT_S)
