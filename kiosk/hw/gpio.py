"""The kiosk's GPIO parts as gpiozero devices: status LED, help beacon, buzzer, presence, service door.

`devices.gpio = mock` runs them on gpiozero's MockFactory (simulation and tests); on the Pi the
lgpio factory is imported lazily by gpiozero itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from kiosk.hw.health import DeviceHealth

if TYPE_CHECKING:
    from gpiozero import Factory

log = logging.getLogger(__name__)

STATUS_PATTERNS: Mapping[str, tuple[float, float] | None] = {
    "ready": None,  # steady on
    "busy": (0.5, 0.5),
    "offline": (1.5, 1.5),
    "fault": (0.15, 0.15),
}


def make_pin_factory(choice: str) -> Factory:
    """Build the gpiozero pin factory for a config choice; hardware libraries load lazily."""
    if choice == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin)
    if choice == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if choice == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    if choice == "native":
        from gpiozero.pins.native import NativeFactory

        return NativeFactory()
    raise ValueError(f"unknown GPIO backend {choice!r}")


class GpioPanel:
    """All GPIO parts of one kiosk. Timed actions run from update(now) on the caller's clock."""

    name = "gpio"

    def __init__(self, pins: Mapping[str, int], factory: Factory, beacon_s: float = 30.0,
                 buzzer_s: float = 0.3) -> None:
        from gpiozero import LED, Buzzer, DigitalInputDevice

        self.factory = factory
        self.pins = dict(pins)
        self.status_led = LED(pins["status_led"], pin_factory=factory)
        self.help_beacon = LED(pins["help_beacon"], pin_factory=factory)
        self.buzzer = Buzzer(pins["buzzer"], pin_factory=factory)
        self.presence = DigitalInputDevice(pins["presence_sensor"], pull_up=False, pin_factory=factory)
        self.service_door = DigitalInputDevice(pins["service_door"], pull_up=False, pin_factory=factory)
        self.beacon_s, self.buzzer_s = beacon_s, buzzer_s
        self._beacon_until: float | None = None
        self._buzzer_until: float | None = None
        self.status = ""
        self.tamper = False
        self.set_status("ready")

    # --- outputs
    def call_staff(self, now: float) -> None:
        """Light the help beacon for beacon_s and sound the buzzer once."""
        self.help_beacon.on()
        self.buzzer.on()
        self._beacon_until = now + self.beacon_s
        self._buzzer_until = now + self.buzzer_s
        log.info("event=call_staff beacon_s=%.0f", self.beacon_s)

    def beep(self, times: int = 1) -> None:
        """Short beeps (a card left in the reader), in the background."""
        self.buzzer.beep(on_time=0.2, off_time=0.2, n=times)

    def tamper_alarm(self) -> None:
        """A fast-flashing beacon until a technician clears it."""
        if not self.tamper:
            self.tamper = True
            self.help_beacon.blink(on_time=0.2, off_time=0.2)
            self._beacon_until = None
            log.error("event=tamper_beacon")

    def consumables_alert(self) -> None:
        """Paper near its end and similar: a slow beacon blink, distinct from a citizen's call."""
        if not self.tamper and self._beacon_until is None:
            self.help_beacon.blink(on_time=1.0, off_time=2.0)
            log.warning("event=consumables_beacon")

    def clear_tamper(self) -> None:
        self.tamper = False
        self.help_beacon.off()

    def set_status(self, status: str) -> None:
        if status == self.status:
            return
        pattern = STATUS_PATTERNS[status]
        if pattern is None:
            self.status_led.on()
        else:
            self.status_led.blink(on_time=pattern[0], off_time=pattern[1])
        self.status = status

    def update(self, now: float) -> None:
        if self._buzzer_until is not None and now >= self._buzzer_until:
            self.buzzer.off()
            self._buzzer_until = None
        if self._beacon_until is not None and now >= self._beacon_until and not self.tamper:
            self.help_beacon.off()
            self._beacon_until = None

    # --- inputs
    @property
    def someone_present(self) -> bool:
        return bool(self.presence.value)

    @property
    def door_open(self) -> bool:
        return bool(self.service_door.value)

    def when_door_opens(self, callback: Callable[[], None]) -> None:
        self.service_door.when_activated = callback

    def health(self) -> DeviceHealth:
        if self.door_open:
            return DeviceHealth.degraded("health.gpio.door_open", "service door open")
        return DeviceHealth.ok()

    def close(self) -> None:
        for dev in (self.status_led, self.help_beacon, self.buzzer, self.presence, self.service_door):
            dev.close()

    def __enter__(self) -> GpioPanel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<GpioPanel status={self.status} beacon={bool(self.help_beacon.value)} "
                f"door_open={self.door_open} present={self.someone_present}>")
