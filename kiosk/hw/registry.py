"""The device registry: one config key per device kind picks its adapter, imported lazily.

An adapter whose library or simulator is missing does not stop the kiosk: it becomes an
Unavailable device whose health says why, and the tiles that need it are disabled.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from kiosk.config import Config
from kiosk.hw.gpio import GpioPanel, make_pin_factory
from kiosk.hw.health import DeviceHealth

log = logging.getLogger(__name__)


class Unavailable:
    """Stands in for a device that could not be opened; reports offline with the reason."""

    def __init__(self, name: str, reason: str, detail: str = "") -> None:
        self.name, self.reason, self.detail = name, reason, detail

    def health(self) -> DeviceHealth:
        return DeviceHealth.offline(self.reason, self.detail)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<Unavailable {self.name} reason={self.reason} detail={self.detail!r}>"


# choice prefix -> (module, factory) per device kind. The factory gets (spec, config).
ADAPTERS: dict[str, dict[str, tuple[str, str]]] = {
    "reader": {"pcsc": ("kiosk.hw.reader_pcsc", "open_reader"),
               "sim": ("kiosk.hw.reader_pcsc", "open_reader")},
    "camera": {"picamera2": ("kiosk.hw.camera_picamera2", "open_camera"),
               "opencv": ("kiosk.hw.camera_opencv", "open_camera"),
               "file": ("kiosk.hw.camera_opencv", "open_camera"),
               "synthetic": ("simulators.camera", "open_camera")},
    "printer": {"usb": ("kiosk.hw.printer_escpos", "open_printer"),
                "serial": ("kiosk.hw.printer_escpos", "open_printer"),
                "tcp": ("kiosk.hw.printer_escpos", "open_printer")},
}


def open_adapter(kind: str, spec: str, cfg: Config) -> Any:
    """Open one device from its spec string, or an Unavailable that says why not."""
    if spec in ("none", ""):
        return Unavailable(kind, f"health.{kind}.not_installed", "configured as none")
    prefix = spec.split(":", 1)[0]
    entry = ADAPTERS[kind].get(prefix)
    if entry is None:
        return Unavailable(kind, f"health.{kind}.unsupported", f"unknown adapter {prefix!r}")
    module_name, factory_name = entry
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        log.warning("event=adapter_missing device=%s module=%s error=%s", kind, module_name, exc)
        return Unavailable(kind, f"health.{kind}.driver_missing", f"{module_name}: {exc}")
    factory: Callable[[str, Config], Any] | None = getattr(module, factory_name, None)
    if factory is None:
        return Unavailable(kind, f"health.{kind}.driver_missing", f"{module_name} has no {factory_name}()")
    try:
        device = factory(spec, cfg)
    except Exception as exc:  # an adapter that fails to open must not stop the kiosk
        log.error("event=adapter_failed device=%s spec=%s error=%r", kind, spec, exc)
        return Unavailable(kind, f"health.{kind}.failed", repr(exc))
    log.info("event=device_opened device=%s spec=%s repr=%r", kind, spec, device)
    return device


def open_gpio(cfg: Config) -> Any:
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
    """Every device of the kiosk, by kind. Closing closes them all."""

    reader: Any
    camera: Any
    printer: Any
    gpio: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def all(self) -> dict[str, Any]:
        return {"reader": self.reader, "camera": self.camera, "printer": self.printer,
                "gpio": self.gpio, **self.extra}

    def close(self) -> None:
        for name, dev in self.all().items():
            try:
                dev.close()
            except Exception as exc:
                log.warning("event=device_close_failed device=%s error=%r", name, exc)


def open_devices(cfg: Config) -> Devices:
    return Devices(
        reader=open_adapter("reader", cfg["devices.reader"], cfg),
        camera=open_adapter("camera", cfg["devices.camera"], cfg),
        printer=open_adapter("printer", cfg["devices.printer"], cfg),
        gpio=open_gpio(cfg),
    )
