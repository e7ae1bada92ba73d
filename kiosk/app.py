"""The composition root: config -> devices -> services -> UI loop."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.hw.health import DeviceHealth
from kiosk.runtime.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# Values `kiosk run --sim` uses unless the config file or KIOSK_* say otherwise.
SIM_OVERRIDES: dict[str, Any] = {
    "devices.reader": "sim",
    "devices.camera": "synthetic",
    "devices.printer": "tcp:127.0.0.1:9100",
    "devices.gpio": "mock",
    "devices.idcard": "sim",  # a resident ID card reader on a pseudo-terminal, 王秀英's card on it
    "kiosk.data_dir": "out/sim-data",
    "maintenance.stick_dir": "out/sim-stick",  # a folder stands in for the USB stick
    "ui.fullscreen": False,
    "ui.kiosk_mode": False,
    "ui.resolution": "1920x1080",
}


class BureauLink:
    """The bureau as the UI sees it: reachable or not, as reported by the sync daemon."""

    name = "bureau"

    def __init__(self, cfg: Config) -> None:
        self.socket_path = cfg["sync.socket_path"]

    def health(self) -> DeviceHealth:
        try:
            from kiosk.sync.ipc import SyncClient  # the daemon owns the network; we only ask it
        except ImportError:
            return DeviceHealth.offline("health.bureau.driver_missing", "kiosk.sync.ipc missing")
        status = SyncClient(self.socket_path).status(timeout=1.0)  # never raises
        if not status.daemon_running:
            return DeviceHealth.offline("health.bureau.failed", "sync daemon not running")
        if status.online:
            return DeviceHealth.ok(f"pending={status.pending}")
        return DeviceHealth.offline("health.bureau.unreachable", status.last_error or "not reached yet")

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<BureauLink socket={self.socket_path}>"


def parse_resolution(text: str) -> tuple[int, int] | None:
    """The schema's parser (`auto` -> None); a bad value is a ConfigError naming the key."""
    from kiosk.config import ConfigError
    from kiosk.schema import parse_resolution as parse

    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError("ui.resolution", None, str(exc)) from None


@dataclass
class Kiosk:
    """Everything `kiosk run` builds, so tests and the walkthrough can build the same thing."""

    cfg: Config
    devices: Any
    health: Any
    ui: Any

    def close(self) -> None:
        self.health.stop()
        self.ui.workers.close()
        self.devices.close()


def build(cfg: Config, surface: Any, clock: Clock | None = None, notifier: Any = None,
          devices: Any = None, health_interval_s: float = 2.0, start_monitor: bool = True,
          cfg_loader: Callable[[], Config] | None = None, power: Any = None,
          config_problem: str = "") -> Kiosk:
    """config_problem: the image's configuration was refused and cfg is the fallback; the UI
    stays on the out-of-service page naming it (the maintenance menu still opens)."""
    from kiosk.hw.registry import open_devices
    from kiosk.services.container import build_services
    from kiosk.services.health import HealthMonitor

    devices = devices or open_devices(cfg)
    devices.extra.setdefault("bureau", BureauLink(cfg))
    alerts = _AlertSinks()
    services = build_services(cfg, devices, on_alert=alerts)
    devices.extra.setdefault("outbox", services.outbox)
    monitor = HealthMonitor(devices.all, health_interval_s)
    if start_monitor:
        monitor.start()
    else:
        monitor.refresh()
    services.sync.on_query.append(partial(_bureau_seen, monitor))
    back_office = _back_office(cfg, devices, services, monitor, cfg_loader, config_problem)
    ui = _ui(cfg, surface, clock, notifier, devices, services, monitor, back_office, config_problem)
    audit, diagnostics, maintenance = back_office
    maintenance.on_config_change.append(ui.apply_config)
    alerts.sinks.append(services.staff_alert)  # kept for the heartbeat
    alerts.sinks.append(lambda alert: audit.append("staff_alert", device=getattr(alert, "device", "?"),
                                                   reason=getattr(alert, "reason", "?")))
    if hasattr(devices.gpio, "consumables_alert"):
        alerts.sinks.append(lambda alert: devices.gpio.consumables_alert())
    diagnostics.power = power or _power(cfg, ui)
    return Kiosk(cfg, devices, monitor, ui)


def _bureau_seen(monitor: Any, reachable: bool) -> None:
    """A live query's word on the bureau reaches the online indicator now, not at the next poll."""
    monitor.observe("bureau", None if reachable else
                    DeviceHealth.offline("health.bureau.unreachable", "a live query could not reach the bureau"))


class _AlertSinks:
    """Staff alerts go to every sink, including those added once the UI exists."""

    def __init__(self) -> None:
        self.sinks: list[Callable[[Any], None]] = []

    def __call__(self, alert: Any) -> None:
        for sink in self.sinks:
            sink(alert)


def _back_office(cfg: Config, devices: Any, services: Any, monitor: Any, cfg_loader: Callable[[], Config] | None,
                 config_problem: str) -> tuple[Any, Any, Any]:
    """The technician's side: the audit log, diagnostics and the maintenance context."""
    from kiosk.services.audit import AuditLog
    from kiosk.services.container import QueueControl
    from kiosk.services.diagnostics import Diagnostics
    from kiosk.services.maintenance import MaintenanceContext
    from kiosk.services.stick import Stick

    audit = AuditLog(cfg.data_dir / "audit.db")
    # a lambda, not maintenance.cfg: maintenance is made below, from this diagnostics
    diagnostics = Diagnostics(devices=devices.all, health=monitor.snapshot, cfg=lambda: maintenance.cfg(),  # noqa: PLW0108
                              audit=audit, log_level=cfg["log.level"],
                              sync=QueueControl(services.outbox, services.sync),
                              printer_test=lambda: _print_test(services, cfg),
                              printer_failures=lambda: services.printing.recent_failures,
                              stick=Stick(lambda: maintenance.cfg(), inline=cfg["devices.gpio"] == "mock"))  # noqa: PLW0108
    maintenance = MaintenanceContext(cfg_loader or (lambda: cfg), audit, diagnostics, devices.gpio)
    if config_problem:
        audit.append("config_error", problem=config_problem[:300])
    for notice in cfg.notices:  # layers set aside, provisioning items refused: the technician's to see
        audit.append("config_layer_set_aside", problem=notice[:300])
    return audit, diagnostics, maintenance


def _ui(cfg: Config, surface: Any, clock: Clock | None, notifier: Any, devices: Any, services: Any, monitor: Any,
        back_office: tuple[Any, Any, Any], config_problem: str) -> Any:
    from kiosk.runtime.workers import Workers
    from kiosk.screens.shell import UIOptions
    from kiosk.screens.ui import UI
    from kiosk.screens.voice import voice_for
    from kiosk.services.desk import Desk
    from kiosk.services.housekeeping import Housekeeping

    options = UIOptions(
        language=cfg["ui.language"], care_mode=cfg["ui.care_mode"],
        inactivity_s=cfg["session.inactivity_s"], countdown_s=cfg["session.countdown_s"],
        failsafe_s=cfg["ui.failsafe_s"], kiosk_mode=cfg["ui.kiosk_mode"], font_path=cfg["ui.font_path"],
        dim_after_s=cfg["ui.dim_after_s"])
    workers = Workers()
    maintenance = back_office[2]
    # Late-bound to the UI made just below: both callbacks run only once the loop runs.
    housekeeping = Housekeeping(services, monitor.snapshot, workers, maintenance.reload,
                                lambda new_cfg: ui.apply_config(new_cfg))  # noqa: PLW0108  (ui is made below)
    desk = Desk(services, language=lambda: ui.lang)
    from kiosk.services.stick_provision import FirstProvisioning

    provisioning = FirstProvisioning(maintenance.cfg, inline=cfg["devices.gpio"] == "mock", reload=maintenance.reload)
    ui = UI(surface, clock or SystemClock(), options, health=monitor.snapshot, gpio=devices.gpio, workers=workers,
            notifier=notifier, maintenance=maintenance, services=services, desk=desk, voice=voice_for(cfg),
            housekeeping=housekeeping, config_problem=config_problem, provisioning=provisioning)
    return ui


def _power(cfg: Config, ui: Any) -> Any:
    from kiosk.hw.power import SimPower, SystemdPower

    return SimPower() if cfg["devices.gpio"] == "mock" else SystemdPower(ui.stop)


def _print_test(services: Any, cfg: Config) -> str:
    from kiosk.services.printing import print_test_receipts

    outcomes = print_test_receipts(services.printing, cfg)
    return ", ".join(f"{'printed' if o.printed else o.reason_key}" for o in outcomes)


def has_display() -> bool:
    if os.environ.get("SDL_VIDEODRIVER") in ("dummy", "offscreen"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER") == "kmsdrm")


def open_display(cfg: Config) -> Any:
    import pygame

    pygame.display.init()
    pygame.font.init()
    size = parse_resolution(cfg["ui.resolution"])
    flags = 0
    if cfg["ui.fullscreen"]:
        flags |= pygame.FULLSCREEN
        size = size or pygame.display.get_desktop_sizes()[0]
    size = size or (1920, 1080)
    screen = pygame.display.set_mode(size, flags)
    pygame.display.set_caption("kiosk")
    if cfg["ui.kiosk_mode"]:
        pygame.mouse.set_visible(False)
    return screen


def run(cfg: Config, max_frames: int | None = None, on_first_frame: Callable[[], None] | None = None,
        cfg_loader: Callable[[], Config] | None = None, config_problem: str = "") -> int:
    """The UI loop. Only this loop pings the systemd watchdog."""
    import pygame

    from kiosk.runtime.sdnotify import Notifier

    notifier = Notifier()
    display = open_display(cfg)
    kiosk = build(cfg, display, notifier=notifier, cfg_loader=cfg_loader, config_problem=config_problem)
    ui = kiosk.ui
    orientation = cfg["ui.orientation"]
    dw, dh = display.get_size()
    rotate = (orientation == "portrait" and dw > dh) or (orientation == "landscape" and dh > dw)
    if rotate:  # a rotated logical surface; touches are mapped back into it
        ui.surface = pygame.Surface((dh, dw))
        ui._layout()
    # SDL turns SIGTERM into a QUIT event, which kiosk mode ignores: systemd's stop must still work.
    signal.signal(signal.SIGTERM, lambda *_: ui.stop(0))
    notifier.ready(status="ui running")
    tick = pygame.time.Clock()
    log.info("event=ui_start size=%dx%d rotate=%s config_error=%s", dw, dh, rotate, bool(config_problem))
    hang_after = float(os.environ.get("KIOSK_TEST_HANG_AFTER_S") or 0)  # appliance boot test only
    started = time.monotonic()
    try:
        while ui.running:
            if hang_after and time.monotonic() - started > hang_after:
                log.warning("event=test_hang after_s=%s", hang_after)
                while True:  # the main loop is stuck; worker threads carry on; the watchdog must act
                    time.sleep(3600)
            events = pygame.event.get()
            if rotate:
                events = [_rotate_event(e) for e in events]
            ui.frame(events)
            if rotate:
                display.blit(pygame.transform.rotate(ui.surface, -90), (0, 0))
            pygame.display.flip()
            if ui.frames == 1 and on_first_frame:
                on_first_frame()
            if max_frames is not None and ui.frames >= max_frames:
                break
            tick.tick(cfg["ui.fps"])
    finally:
        notifier.stopping()
        kiosk.close()
        pygame.quit()
    return ui.exit_code


def _rotate_event(event: Any) -> Any:
    import pygame

    if event.type in (pygame.FINGERDOWN, pygame.FINGERUP):
        # Display rotated clockwise: logical x runs down the display, logical y right to left.
        return pygame.event.Event(event.type, x=event.y, y=1.0 - event.x, touch_id=event.touch_id,
                                  finger_id=event.finger_id, pressure=1.0, dx=0.0, dy=0.0)
    return event


def first_frame_probe() -> Callable[[], None]:
    """For the benchmark: print the wall time of the first frame, and RSS."""

    def probe() -> None:
        rss = 0.0
        status = Path("/proc/self/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
        print(f"first_frame_at={time.time():.6f} rss_mb={rss:.1f}", flush=True)

    return probe
