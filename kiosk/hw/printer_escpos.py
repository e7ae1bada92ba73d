"""Receipt printer adapter on python-escpos: USB, serial or network printers, status by DLE EOT.

python-escpos is imported lazily, inside the functions that talk to a printer. The values that
cross the port (print operations, PrinterStatus) live in kiosk/hw/printer_model.py.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.hw.health import DeviceHealth
from kiosk.hw.printer_model import (
    DOTS_PER_LINE,
    Feed,
    PaperLevel,
    Picture,
    PrinterError,
    PrinterStatus,
    PrintOp,
    QrCode,
    TextLine,
    status_from_bytes,
)

# The values of the port are re-exported: printer users have always imported them from here.
__all__ = ["DOTS_PER_LINE", "EscposPrinter", "Feed", "PaperLevel", "Picture", "PrintOp", "PrinterError",
           "PrinterSpec", "PrinterStatus", "QrCode", "TextLine", "emit", "fit_profile", "open_printer",
           "status_from_bytes"]

if TYPE_CHECKING:
    from PIL import Image

    from kiosk.config import Config

log = logging.getLogger(__name__)

DEFAULT_TCP_PORT = 9100
DEFAULT_BAUD = 9600
FS_CHINESE_ON = b"\x1c\x26"  # python-escpos never sends it: GB18030 text prints as code page junk
ESC_INIT = b"\x1b\x40"
_DLE_EOT = b"\x10\x04"


@dataclass(frozen=True)
class PrinterSpec:
    """A parsed `devices.printer` value."""

    kind: str  # usb | serial | tcp
    vendor_id: int = 0
    product_id: int = 0
    device: str = ""
    baudrate: int = DEFAULT_BAUD
    host: str = ""
    port: int = DEFAULT_TCP_PORT

    @classmethod
    def parse(cls, spec: str) -> PrinterSpec:
        """usb:VID:PID | serial:/dev/ttyUSB0[:BAUD] | tcp:HOST[:PORT]; raises ValueError."""
        kind, _, rest = spec.partition(":")
        if kind == "usb":
            vid, _, pid = rest.partition(":")
            return cls("usb", vendor_id=int(vid, 16), product_id=int(pid, 16))
        if kind == "serial":
            device, baud = rest, ""
            if ":" in rest and rest.rsplit(":", 1)[1].isdigit():
                device, baud = rest.rsplit(":", 1)
            if not device:
                raise ValueError(f"serial printer needs a device: {spec!r}")
            return cls("serial", device=device, baudrate=int(baud or DEFAULT_BAUD))
        if kind == "tcp":
            host, _, port = rest.partition(":")
            if not host:
                raise ValueError(f"tcp printer needs a host: {spec!r}")
            return cls("tcp", host=host, port=int(port or DEFAULT_TCP_PORT))
        raise ValueError(f"unknown printer spec {spec!r}")



class EscposProfile(Protocol):
    profile_data: dict[str, Any]  # python-escpos's capabilities of the printer model, as JSON data


class EscposDriver(Protocol):
    """What this adapter calls of a python-escpos printer object (Network, Serial, Usb, Dummy);
    python-escpos has no type information of its own."""

    profile: EscposProfile

    def _raw(self, msg: bytes) -> None: ...

    def _read(self) -> bytes: ...

    def set(self, *, align: str, bold: bool, custom_size: bool, width: int, height: int) -> None: ...

    def qr(self, content: str, *, native: bool, size: int, ec: int, center: bool = False) -> None: ...

    def image(self, img_source: Image.Image, *, center: bool) -> None: ...

    def cut(self, *, mode: str) -> None: ...

    def close(self) -> None: ...


class EscposPrinter:
    """One receipt printer. Network printers are connected per job (port 9100 takes one client)."""

    name = "printer"

    def __init__(
        self, spec: PrinterSpec, paper_mm: int = 58, timeout_s: float = 3.0,
        status_ttl_s: float = 5.0, backend: EscposDriver | None = None, cut_mode: str = "full",
        chinese_mode: bool = True,
    ) -> None:
        self.spec = spec
        self.paper_mm = paper_mm
        self.width_dots = DOTS_PER_LINE.get(paper_mm, 384)
        self.columns = self.width_dots // 12  # Font A, half-width characters
        self.timeout_s = timeout_s
        self.status_ttl_s = status_ttl_s
        self.cut_mode = cut_mode
        self.chinese_mode = chinese_mode
        self._backend = backend  # an escpos printer supplied by tests (e.g. escpos Dummy)
        if backend is not None:
            fit_profile(backend, self.width_dots)
        self._device: EscposDriver | None = None
        self._lock = threading.Lock()
        self._last: PrinterStatus | None = None
        self._last_at = 0.0

    def __repr__(self) -> str:
        last = (self._last.reason or "ok") if self._last else "unknown"
        return f"<EscposPrinter {self.spec.kind} width_dots={self.width_dots} status={last}>"

    def __enter__(self) -> EscposPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the escpos object ------------------------------------------------------------------

    def _make(self) -> EscposDriver:
        if self._backend is not None:
            return self._backend
        s = self.spec
        if s.kind == "tcp":
            from escpos.printer import Network

            p = Network(s.host, port=s.port, timeout=self.timeout_s)
        elif s.kind == "serial":
            from escpos.printer import Serial

            p = Serial(devfile=s.device, baudrate=s.baudrate, timeout=self.timeout_s)
        else:
            from escpos.printer import Usb

            p = Usb(s.vendor_id, s.product_id, timeout=int(self.timeout_s * 1000))
        p.open()
        fit_profile(p, self.width_dots)
        driver: EscposDriver = p
        return driver

    @contextlib.contextmanager
    def _session(self) -> Iterator[EscposDriver]:
        with self._lock:
            if self._device is None:
                self._device = self._make()
            device = self._device
            try:
                yield device
            except Exception:
                self._drop()
                raise
            if self.spec.kind == "tcp" and self._backend is None:
                self._drop()

    def _drop(self) -> None:
        if self._device is not None and self._device is not self._backend:
            with contextlib.suppress(Exception):
                self._device.close()
        self._device = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- status ------------------------------------------------------------------------------

    def status(self) -> PrinterStatus:
        """Ask the printer now (DLE EOT 1, 2, 4); a silent or absent printer is offline."""
        try:
            with self._session() as p:
                st = self._query(p)
        except Exception as exc:  # a vanished printer is a state, not a crash
            st = PrinterStatus(
                False, PaperLevel.OK, False, "health.printer.offline", _describe(exc)
            )
        self._remember(st)
        return st

    def _query(self, p: EscposDriver) -> PrinterStatus:
        return status_from_bytes(*(self._ask(p, n) for n in (1, 2, 4)))

    @staticmethod
    def _ask(p: EscposDriver, n: int) -> bytes:
        p._raw(_DLE_EOT + bytes([n]))
        try:
            return bytes(p._read())[-1:]
        except (TimeoutError, OSError, NotImplementedError):
            return b""

    def _remember(self, st: PrinterStatus) -> None:
        if self._last != st:
            log.info("event=printer_status online=%s paper=%s cover_open=%s reason=%s detail=%s",
                     st.online, st.paper.value, st.cover_open, st.reason or "-", _q(st.detail))
        self._last, self._last_at = st, time.monotonic()

    def health(self) -> DeviceHealth:
        """From the last status if it is fresh, else asks (bounded by the timeout)."""
        if self._last is None or time.monotonic() - self._last_at > self.status_ttl_s:
            return self.status().health()
        return self._last.health()

    # -- printing ----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send raw ESC/POS bytes (the Printer port's narrow primitive)."""
        with self._session() as p:
            p._raw(data)

    def print_receipt(self, ops: Sequence[PrintOp], cut: bool = True) -> PrinterStatus:
        """Check, print one receipt in Chinese mode, cut, check again; raises PrinterError.

        All on one connection: a status answer that follows the data in the same stream comes
        from a printer that has at least received all of it. PrinterError.when is "before"
        (nothing sent), "during" (the transport failed part-way) or "after" (all sent, but the
        printer then reported that it stopped: the receipt may be incomplete).
        """
        phase = "before"
        try:
            with self._session() as p:
                before = self._query(p)
                self._remember(before)
                if not before.ready:
                    log.warning("event=print_refused reason=%s detail=%s",
                                before.reason, _q(before.detail))
                    raise PrinterError(before, "before")
                phase = "during"
                emit(p, ops, cut=cut, cut_mode=self.cut_mode, chinese_mode=self.chinese_mode)
                after = self._query(p)
        except PrinterError:
            raise
        except Exception as exc:
            # Failing to connect means nothing was printed: that is an absent printer, not a fault.
            reason = "health.printer.offline" if phase == "before" else "health.printer.failed"
            st = PrinterStatus(False, PaperLevel.OK, False, reason, _describe(exc))
            self._remember(st)
            log.error("event=print_failed phase=%s error=%s", phase, _q(_describe(exc)))
            raise PrinterError(st, phase) from exc
        self._remember(after)
        if not after.ready:
            log.warning("event=print_incomplete reason=%s detail=%s", after.reason, _q(after.detail))
            raise PrinterError(after, "after")
        log.info("event=receipt_printed ops=%d paper=%s", len(ops), after.paper.value)
        return after


def fit_profile(p: EscposDriver, width_dots: int) -> None:
    """Tell python-escpos the paper width: it centres images then, and stops printing a warning."""
    p.profile.profile_data = {**p.profile.profile_data, "media": {"width": {"pixels": width_dots}}}


def emit(
    p: EscposDriver, ops: Sequence[PrintOp], cut: bool = True, cut_mode: str = "full",
    chinese_mode: bool = True,
) -> None:
    """Drive a python-escpos printer object (any kind, Dummy included) through a receipt.

    chinese_mode=False is for printers that power on in Chinese mode and print FS & as junk.
    """
    p._raw(ESC_INIT + (FS_CHINESE_ON if chinese_mode else b""))
    for op in ops:
        if isinstance(op, TextLine):
            # Size by GS ! only (also for 1x1): ESC ! would reset emphasis and underline too.
            w, h = max(1, min(8, op.width)), max(1, min(8, op.height))
            p.set(align=op.align, bold=op.bold, custom_size=True, width=w, height=h)
            # GB18030 ourselves: python-escpos sends it only for some CJK and turns ：（） into ?.
            p._raw(op.text.encode("gb18030", errors="replace") + b"\n")
        elif isinstance(op, QrCode):
            p.set(align="center", bold=False, custom_size=True, width=1, height=1)
            if op.native:
                p.qr(op.data, native=True, size=op.module_dots, ec=1)
                p._raw(b"\n")
            else:
                p.qr(op.data, native=False, size=op.module_dots, ec=1, center=True)
        elif isinstance(op, Picture):
            p.image(op.image, center=op.center)
        elif isinstance(op, Feed):
            p._raw(b"\n" * max(0, op.lines))
    p.set(align="left", bold=False, custom_size=True, width=1, height=1)
    if cut:
        p.cut(mode="PART" if cut_mode == "partial" else "FULL")


def open_printer(spec: str, cfg: Config) -> EscposPrinter:
    """Registry factory: `devices.printer` spec plus the printer.* keys from the config."""
    return EscposPrinter(
        PrinterSpec.parse(spec), paper_mm=cfg["printer.paper_mm"], timeout_s=cfg["printer.timeout_s"],
        status_ttl_s=cfg["printer.status_ttl_s"], cut_mode=cfg["printer.cut"],
        chinese_mode=cfg["printer.chinese_mode_cmd"],
    )


def _describe(exc: BaseException) -> str:
    # python-escpos exceptions have an empty repr(); the message is in str().
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def _q(value: str) -> str:
    """A log value: quoted when it has spaces, so the line stays one key=value record."""
    if not value:
        return "-"
    if any(c in value for c in ' ="'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value
