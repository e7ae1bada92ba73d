"""The device registry: one config key per device kind picks its adapter, imported lazily.

An adapter whose library or simulator is missing does not stop the kiosk: it becomes an
Unavailable device whose health says why, and the tiles that need it are disabled. What the
registry hands out is typed by the ports (kiosk/hw/ports.py): the port, or Unavailable.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard, overload

from kiosk.config import Config
from kiosk.hw.gpio import GpioPanel, make_pin_factory
from kiosk.hw.health import DeviceHealth
from kiosk.hw.ports import BarcodeScanner, Camera, CardReader, Device, Gpio, IdCardReader, Monitored, Printer

log = logging.getLogger(__name__)


class Unavailable:
    """Stands in for a device that could not be opened; reports offline with the reason."""

    def __init__(self, name: str, reason: str, detail: str = "") -> None:
        self.name, self.reason, self.detail = name, reason, detail

    def health(self) -> DeviceHealth:
        return DeviceHealth.offline(self.reason, self.detail)

    def close(self) -> None:
        pass

    def __enter__(self) -> Unavailable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Unavailable {self.name} reason={self.reason} detail={self.detail!r}>"


# choice prefix -> (module, factory) per device kind. The factory gets (spec, config).
ADAPTERS: dict[str, dict[str, tuple[str, str]]] = {
    "reader": {"pcsc": ("kiosk.hw.reader_pcsc", "open_reader"),
               "sim": ("kiosk.hw.reader_pcsc", "open_reader")},
    "camera": {"picamera2": ("kiosk.hw.camera_picamera2", "open_camera"),
               "opencv": ("kiosk.hw.camera_opencv", "open_camera"),
               "file": ("kiosk.hw.camera_opencv", "open_camera"),
               "synthetic": ("kiosk.hw.camera_synthetic", "open_camera")},
    "printer": {"usb": ("kiosk.hw.printer_escpos", "open_printer"),
                "serial": ("kiosk.hw.printer_escpos", "open_printer"),
                "tcp": ("kiosk.hw.printer_escpos", "open_printer")},
    "idcard": {"serial": ("kiosk.hw.idcard_serial", "open_idcard"),
               "sim": ("kiosk.hw.idcard_serial", "open_idcard")},
    "scanner": {"serial": ("kiosk.hw.scanner_serial", "open_scanner"),
                "sim": ("kiosk.hw.scanner_serial", "open_scanner")},
}


@dataclass(frozen=True)
class DeviceSpec:
    """A `devices.*` value as start-up reads it: which adapter, and the text it is given."""

    kind: str  # reader | camera | printer | idcard
    adapter: str  # a key of ADAPTERS[kind], or "none"
    spec: str


SPEC_FORMS = {
    "reader": "pcsc | sim | none",
    "camera": "picamera2 | opencv:INDEX | file:PATH | synthetic[:OPTIONS] | none",
    "printer": "usb:VID:PID | serial:DEVICE[:BAUD] | tcp:HOST[:PORT] | none",
    "idcard": "serial:DEVICE[:BAUD] | sim | none",
    "scanner": "serial:DEVICE[:BAUD][,suffix=auto|cr|lf|crlf][,prefix=HEX] | sim | none",
}


def parse_spec(kind: str, spec: str) -> DeviceSpec:
    """Check a device spec the way the adapter will read it; raises ValueError with a one-line
    reason. Config validation calls this, so a typo stops start-up instead of hiding a device."""
    if spec in ("none", ""):
        return DeviceSpec(kind, "none", spec)
    prefix, _, arg = spec.partition(":")
    if prefix not in ADAPTERS[kind]:
        raise ValueError(f"unknown {kind} {spec!r}; expected {SPEC_FORMS[kind]}")
    problem = _KIND_CHECKS.get((kind, prefix), _SPEC_CHECKS.get(prefix, _no_argument))(arg, spec)
    if problem:
        raise ValueError(f"{problem}; expected {SPEC_FORMS[kind]}")
    return DeviceSpec(kind, prefix, spec)


def _no_argument(arg: str, spec: str) -> str | None:
    return f"{spec!r} takes no argument" if arg else None


def _opencv(arg: str, spec: str) -> str | None:
    return None if arg == "" or arg.isdigit() else f"bad camera index in {spec!r}"


def _file(arg: str, spec: str) -> str | None:
    return None if arg else f"{spec!r} needs a path"


def _synthetic(arg: str, spec: str) -> str | None:
    try:
        from simulators.camera import MODES
        from simulators.camera import parse_spec as synthetic_spec
    except ImportError:  # an image without the simulators: opening it reports driver_missing
        return None
    try:
        mode = synthetic_spec(spec).get("mode", "genuine")
    except ValueError as exc:
        return f"bad synthetic camera {spec!r} ({exc})"
    return None if mode in MODES else f"unknown synthetic camera mode {mode!r} in {spec!r}"


def _printer(arg: str, spec: str) -> str | None:
    from kiosk.hw.printer_escpos import PrinterSpec

    try:
        parsed = PrinterSpec.parse(spec)
    except ValueError:
        return f"bad printer {spec!r}"
    if not 0 < parsed.port < 65536 or not parsed.baudrate > 0:
        return f"bad port or baud rate in {spec!r}"
    return None


_SPEC_CHECKS = {"opencv": _opencv, "file": _file, "synthetic": _synthetic,
                "usb": _printer, "serial": _printer, "tcp": _printer}


def _idcard_serial(arg: str, spec: str) -> str | None:
    from kiosk.hw.idcard_serial import parse_serial_spec

    try:
        parse_serial_spec(spec)
    except ValueError as exc:
        return str(exc)
    return None


def _scanner_serial(arg: str, spec: str) -> str | None:
    from kiosk.hw.scanner_serial import parse_serial_spec

    try:
        parse_serial_spec(spec)
    except ValueError as exc:
        return str(exc)
    return None


# where a prefix means another thing per kind
_KIND_CHECKS = {("idcard", "serial"): _idcard_serial, ("scanner", "serial"): _scanner_serial}

_PORT_NAMES = {"reader": "CardReader", "camera": "Camera", "printer": "Printer", "idcard": "IdCardReader",
               "scanner": "BarcodeScanner"}


@overload
def open_device(kind: Literal["reader"], spec: str, cfg: Config) -> CardReader | Unavailable: ...
@overload
def open_device(kind: Literal["camera"], spec: str, cfg: Config) -> Camera | Unavailable: ...
@overload
def open_device(kind: Literal["printer"], spec: str, cfg: Config) -> Printer | Unavailable: ...
@overload
def open_device(kind: Literal["idcard"], spec: str, cfg: Config) -> IdCardReader | Unavailable: ...
@overload
def open_device(kind: Literal["scanner"], spec: str, cfg: Config) -> BarcodeScanner | Unavailable: ...
def open_device(kind: str, spec: str, cfg: Config) -> Device:
    """Open one device from its spec string, or an Unavailable that says why not. An adapter
    that is not what its kind's port promises is closed and reported as a missing driver."""
    return _open_checked(kind, spec, cfg)


def open_adapter(kind: str, spec: str, cfg: Config) -> Any:
    """open_device for callers that narrow by hasattr (the command-line tools); prefer
    open_device, whose result is typed by the port."""
    return _open_checked(kind, spec, cfg)


def _open_checked(kind: str, spec: str, cfg: Config) -> Device:
    device = _open(kind, spec, cfg)
    if isinstance(device, Unavailable):
        return device
    if _is_port(device, kind):
        return device
    adapter, port = type(device).__name__, _PORT_NAMES[kind]
    log.error("event=adapter_refused device=%s spec=%s adapter=%s port=%s", kind, spec, adapter, port)
    if isinstance(device, Monitored):
        device.close()
    return Unavailable(kind, f"health.{kind}.driver_missing", f"{adapter} is not a {port}")


def _is_port(device: object, kind: str) -> TypeGuard[Device]:
    """Has the device every member of its port? (Names only: mypy checks the signatures.)"""
    port = {"reader": CardReader, "camera": Camera, "printer": Printer, "idcard": IdCardReader,
            "scanner": BarcodeScanner}[kind]
    return isinstance(device, port)


def _open(kind: str, spec: str, cfg: Config) -> object:
    try:
        parsed = parse_spec(kind, spec)
    except ValueError as exc:
        return Unavailable(kind, f"health.{kind}.unsupported", str(exc))
    if parsed.adapter == "none":
        return Unavailable(kind, f"health.{kind}.not_installed", "configured as none")
    module_name, factory_name = ADAPTERS[kind][parsed.adapter]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        log.warning("event=adapter_missing device=%s module=%s error=%s", kind, module_name, exc)
        return Unavailable(kind, f"health.{kind}.driver_missing", f"{module_name}: {exc}")
    factory: Callable[[str, Config], object] | None = getattr(module, factory_name, None)
    if factory is None:
        return Unavailable(kind, f"health.{kind}.driver_missing", f"{module_name} has no {factory_name}()")
    try:
        device = factory(spec, cfg)
    except Exception as exc:  # an adapter that fails to open must not stop the kiosk
        log.error("event=adapter_failed device=%s spec=%s error=%r", kind, spec, exc)
        return Unavailable(kind, f"health.{kind}.failed", repr(exc))
    log.info("event=device_opened device=%s spec=%s repr=%r", kind, spec, device)
    return device


def open_gpio(cfg: Config) -> Gpio | Unavailable:
    try:
        factory = make_pin_factory(cfg["devices.gpio"])
        pins = {name: cfg[f"gpio.{name}"] for name in
                ("status_led", "help_beacon", "buzzer", "presence_sensor", "service_door")}
        return GpioPanel(pins, factory, cfg["gpio.beacon_s"], cfg["gpio.buzzer_s"])
    except Exception as exc:
        log.error("event=gpio_failed backend=%s error=%r", cfg["devices.gpio"], exc)
        return Unavailable("gpio", "health.gpio.failed", repr(exc))


@dataclass
class Devices:
    """Every device of the kiosk, by kind: each its port, or Unavailable. Closing closes them all."""

    reader: CardReader | Unavailable
    camera: Camera | Unavailable
    printer: Printer | Unavailable
    gpio: Gpio | Unavailable
    extra: dict[str, Monitored] = field(default_factory=dict)  # the bureau link, the outbox
    idcard: IdCardReader | Unavailable = field(
        default_factory=lambda: Unavailable("idcard", "health.idcard.not_installed", "configured as none"))
    scanner: BarcodeScanner | Unavailable = field(
        default_factory=lambda: Unavailable("scanner", "health.scanner.not_installed", "configured as none"))

    def all(self) -> dict[str, Monitored]:
        # The ID card reader is an optional extra: listed (and watched) only where one is configured.
        fitted = not (isinstance(self.idcard, Unavailable) and self.idcard.reason == "health.idcard.not_installed")
        scanner = not (isinstance(self.scanner, Unavailable)
                       and self.scanner.reason == "health.scanner.not_installed")
        return {"reader": self.reader, "camera": self.camera, "printer": self.printer,
                "gpio": self.gpio, **({"idcard": self.idcard} if fitted else {}),
                **({"scanner": self.scanner} if scanner else {}), **self.extra}

    def close(self) -> None:
        for name, dev in self.all().items():
            try:
                dev.close()
            except Exception as exc:
                log.warning("event=device_close_failed device=%s error=%r", name, exc)


def open_devices(cfg: Config) -> Devices:
    return Devices(
        reader=open_device("reader", cfg["devices.reader"], cfg),
        camera=open_device("camera", cfg["devices.camera"], cfg),
        printer=open_device("printer", cfg["devices.printer"], cfg),
        gpio=open_gpio(cfg),
        idcard=open_device("idcard", cfg["devices.idcard"], cfg),
        scanner=open_device("scanner", cfg["devices.scanner"], cfg),
    )
