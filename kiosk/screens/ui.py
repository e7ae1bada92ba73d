"""The UI shell: owns the pygame surface and the screen stack, turns touches into taps, runs the
inactivity timer and the failsafe, and draws the top and bottom bars. It never blocks."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import pygame

from kiosk.i18n import Translator
from kiosk.runtime.clock import Clock
from kiosk.runtime.memory import malloc_trim
from kiosk.runtime.sdnotify import Notifier
from kiosk.runtime.workers import Workers
from kiosk.screens.base import Screen
from kiosk.screens.shell import UIOptions
from kiosk.screens.text import TextRenderer
from kiosk.screens.theme import COLORS, Theme
from kiosk.screens.widgets import Button
from kiosk.services.catalog import anything_available
from kiosk.services.health import DeviceHealth
from kiosk.services.session import Phase, SessionManager

log = logging.getLogger(__name__)


class UI:
    def __init__(self, surface: pygame.Surface, clock: Clock, options: UIOptions, *,
                 health: Callable[[], dict[str, DeviceHealth]], gpio: Any = None,
                 workers: Workers | None = None, notifier: Notifier | None = None,
                 maintenance: Any = None, services: Any = None, desk: Any = None, voice: Any = None,
                 housekeeping: Any = None, config_problem: str = "", provisioning: Any = None) -> None:
        """services: kiosk.services.container.CitizenServices; desk: kiosk.services.desk.Desk, what
        flows call; voice: kiosk.screens.voice.Voice; config_problem: `kiosk run` started on the
        fallback config (the image's file was refused); provisioning: stick_provision.FirstProvisioning."""
        self.surface = surface
        self.clock = clock
        self.options = options
        self.health_source = health
        self.gpio = gpio
        self.workers = workers or Workers()
        self.notifier = notifier or Notifier(environ={})
        self.text = TextRenderer(options.font_path)
        self.sessions = SessionManager(options.inactivity_s, options.countdown_s,
                                       options.language, options.care_mode)
        self.sessions.on_end.append(self._on_session_end)
        self.translators = {lang: Translator(lang) for lang in ("zh_CN", "en")}
        self.theme = Theme(*surface.get_size(), care_mode=options.care_mode)
        self.health: dict[str, DeviceHealth] = {}
        self._stack: list[Screen] = []
        self.bar_buttons: list[Button] = []
        self.toast: tuple[str, float] | None = None
        self.config_problem = config_problem
        self.provisioning = provisioning
        self._pressed: Button | None = None
        self._pending_wipes: list[Callable[[], None]] = []
        self._collect_due = False
        self.maintenance = maintenance
        self.services, self.desk, self.voice, self.housekeeping = services, desk, voice, housekeeping
        self.flow_host: Any = None  # kiosk.screens.flow_host.FlowHost: the flow on screen, if any
        self.last_touch_at = clock.monotonic()
        self._door_was_open = False
        self.dimmed = False
        self.exit_code = 0
        self.running = True
        self.frames = 0
        from kiosk.screens import flows  # late import: flows import this module's types

        self.flows = flows
        self.health = self.health_source()
        self.go_home()

    # ------------------------------------------------------------------ language and text
    @property
    def lang(self) -> str:
        return self.sessions.language

    def t(self, key: str, **fields: Any) -> str:
        return self.translators[self.lang](key, **fields)

    def draw_lines(self, surf: pygame.Surface, lines: list[str], size: int, color, cx: int, top: int,
                   bold: bool = False, align: str = "center", *, role: str = "",
                   box: pygame.Rect | None = None) -> int:
        return self.text.draw_block(surf, lines, size, color, cx, top, bold, align, role=role, box=box)

    def draw_text(self, surf: pygame.Surface, key: str, role: str, color, rect: pygame.Rect,
                  max_lines: int = 3, bold: bool = False, align: str = "center", **fields: Any) -> int:
        text = self.t(key, **fields)
        size, lines = self.text.fit(text, self.theme.font_px(role), rect.width, max_lines, bold,
                                    height=rect.height if rect.height > 0 else None)
        x = rect.centerx if align == "center" else rect.x
        return self.draw_lines(surf, lines, size, color, x, rect.y, bold, align, role=role, box=rect)

    # ------------------------------------------------------------------ screens
    @property
    def screen(self) -> Screen:
        return self.stack[-1]

    @property
    def stack(self) -> list[Screen]:
        return self._stack

    @stack.setter
    def stack(self, screens: list[Screen]) -> None:
        """A new stack: every screen that is not on it any more is released."""
        old, self._stack = self._stack, screens
        for screen in old:
            if not any(screen is s for s in screens):
                self._release(screen)

    def _release(self, screen: Screen) -> None:
        try:
            screen.release()
        except Exception:  # releasing must never take the kiosk down
            log.exception("event=screen_release_error screen=%s", screen.name)

    def content_area(self) -> pygame.Rect:
        th = self.theme
        w, h = self.surface.get_size()
        return pygame.Rect(th.margin, th.top_bar_h + th.margin, w - 2 * th.margin,
                           h - th.top_bar_h - th.bottom_bar_h - 2 * th.margin)

    def show(self, screen: Screen, replace: bool = False) -> None:
        if screen.in_session:
            self.sessions.begin(self.clock.monotonic())
        if replace and self.stack:
            left = self.stack.pop()
            if left is not screen:
                self._release(left)
        self.stack.append(screen)
        self._layout()
        log.info("event=screen screen=%s", screen.name)

    def back(self) -> None:
        if len(self.stack) > 1:
            self._release(self.stack.pop())
            self._layout()
        else:
            self.go_home()

    def go_home(self, why: str = "home") -> None:
        self._leave_flow()
        self.sessions.end(why)
        self.stack = [self.flows.HomeScreen(self)]
        self._layout()

    def home_in_session(self) -> None:
        """Home, the citizen still identified ("another service"): the session goes on."""
        self._leave_flow()
        self.stack = [self.flows.HomeScreen(self)]
        self._layout()

    def _leave_flow(self) -> None:
        host, self.flow_host = self.flow_host, None
        if host is not None:
            host.abandon()

    def relayout(self) -> None:
        self._layout()

    def register_wipe(self, wiper: Callable[[], None]) -> None:
        """Buffers with personal data register here; they are wiped when the session ends."""
        session = self.sessions.session
        if session is not None:
            session.on_wipe(wiper)
        else:
            self._pending_wipes.append(wiper)

    def _on_session_end(self, session: Any, why: str) -> None:
        for wiper in self._pending_wipes:
            session.on_wipe(wiper)
        self._pending_wipes.clear()
        self.workers.drop_session(session.token)
        self.text.clear()
        self.toast = None
        self._collect_due = True

    def set_language(self, lang: str) -> None:
        session = self.sessions.begin(self.clock.monotonic())
        session.language = lang
        if self.flow_host is not None:
            self.flow_host.language_changed()
        self.flows.build_bars(self)
        log.info("event=language lang=%s", lang)

    def toggle_care_mode(self) -> None:
        session = self.sessions.begin(self.clock.monotonic())
        session.care_mode = not session.care_mode
        self._layout()

    def call_staff(self) -> None:
        now = self.clock.monotonic()
        if self.gpio is not None and hasattr(self.gpio, "call_staff"):
            self.gpio.call_staff(now)
        self.toast = ("staff.called", now + self.options.toast_s)

    def _layout(self) -> None:
        w, h = self.surface.get_size()
        technician = self.screen.technician  # a technician's page: no care mode, its own floor
        self.theme = Theme(w, h, care_mode=self.sessions.care_mode and not technician, technician=technician)
        self.text.floor = self.theme.floor_px
        self._guard(lambda: self.screen.layout(self.content_area()))
        self.flows.build_bars(self)

    # ------------------------------------------------------------------ events
    def handle(self, event: pygame.event.Event) -> None:
        etype = event.type
        w, h = self.surface.get_size()
        if etype == pygame.QUIT:
            if self.options.kiosk_mode:
                log.info("event=quit_ignored")
            else:
                self.running = False
            return
        if etype == pygame.KEYDOWN:
            if not self.options.kiosk_mode and event.key == pygame.K_ESCAPE:
                self.running = False
            return  # kiosk mode: keyboards do nothing (no escapes, no shortcuts)
        if etype in (pygame.FINGERDOWN, pygame.FINGERUP):
            pos, down = (int(event.x * w), int(event.y * h)), etype == pygame.FINGERDOWN
        elif etype in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
            if getattr(event, "touch", False) or getattr(event, "button", 1) != 1:
                return  # SDL's mouse copy of a touch: the FINGER event already counted
            pos, down = event.pos, etype == pygame.MOUSEBUTTONDOWN
        elif etype == pygame.VIDEORESIZE or etype == pygame.WINDOWSIZECHANGED:
            self._layout()
            return
        else:
            return
        self._guard(lambda: self._pointer(pos, down))

    def _pointer(self, pos: tuple[int, int], down: bool) -> None:
        now = self.clock.monotonic()
        self.last_touch_at = now
        if self.dimmed:  # the first touch only wakes the screen
            self.dimmed = False
            self._pressed = None
            return
        if self.sessions.session is not None:
            self.sessions.touch(now)
        if down and self.maintenance is not None and self.screen.is_home \
                and self.maintenance.gesture.tap(pos, now):
            self.show(self.flows.TechPinScreen(self, via="gesture"))
            return
        targets = self._tap_targets()
        if down:
            self._pressed = next((b for b in targets if b.hit(pos)), None)
            return
        pressed, self._pressed = self._pressed, None
        if pressed is not None and pressed.hit(pos):  # released on the same control: a tap
            # A keypad key says what was typed (a PIN digit, an ID number, a name): log only
            # that the keypad was used.
            keypad = pressed.literal or (pressed.name or "").startswith("key-")
            log.debug("event=tap button=%s", "keypad" if keypad else pressed.name or pressed.label)
            pressed.on_press()

    def _tap_targets(self) -> list[Button]:
        overlay = self.flows.overlay_buttons(self)
        if overlay is not None:
            return overlay
        return self.bar_buttons + self.screen.buttons

    def tap(self, pos: tuple[int, int]) -> None:
        """Inject one touch (down + up) at a pixel position, as a finger would."""
        w, h = self.surface.get_size()
        for etype in (pygame.FINGERDOWN, pygame.FINGERUP):
            self.handle(pygame.event.Event(etype, x=pos[0] / w, y=pos[1] / h, touch_id=1,
                                           finger_id=0, pressure=1.0, dx=0.0, dy=0.0))

    # ------------------------------------------------------------------ frame
    def frame(self, events: list[pygame.event.Event] | None = None) -> None:
        """One loop iteration: events, timers, workers, drawing, watchdog."""
        for event in (pygame.event.get() if events is None else events):
            self.handle(event)
        now = self.clock.monotonic()
        self.workers.poll()
        self.health = self.health_source()
        if self.gpio is not None and hasattr(self.gpio, "update"):
            self.gpio.update(now)
        if self.toast and now >= self.toast[1]:
            self.toast = None
        if self.sessions.phase(now) is Phase.EXPIRED:
            log.info("event=inactivity_timeout screen=%s", self.screen.name)
            self.go_home("timeout")
        if self.flow_host is not None:
            self._guard(lambda: self.flow_host.tick(now))
        self._guard(lambda: self.screen.update(now))
        self._watch_hardware(now)
        if self.housekeeping is not None:
            self.housekeeping.tick(now)
        self.flows.check_service_state(self)
        self._guard(self._draw)
        self.frames += 1
        if self._collect_due:
            self._collect()
        self.notifier.tick(now, status=f"screen={self.screen.name}")

    def _watch_hardware(self, now: float) -> None:
        """Service door, tamper, presence and the status LED: GPIO behaviour in service."""
        gpio = self.gpio
        if self.maintenance is not None:
            door = self.maintenance.door_open()
            if door and not self._door_was_open:
                self.maintenance.access.door_opened(now)
                self.sessions.end("maintenance")
                self.stack = [self.flows.HomeScreen(self)]
                self.show(self.flows.TechPinScreen(self, via="door"))
            elif not door and self._door_was_open:
                self.maintenance.access.door_closed()
                if self.screen.name == "tech_pin":
                    self.go_home("door_closed")
            self._door_was_open = door
            if self.maintenance.access.check_tamper(now) and hasattr(gpio, "tamper_alarm"):
                gpio.tamper_alarm()
        present = bool(getattr(gpio, "someone_present", False))
        if present:
            self.last_touch_at = now
            self.dimmed = False
        elif self.screen.is_home and self.sessions.session is None \
                and now - self.last_touch_at >= self.options.dim_after_s:
            self.dimmed = True
        if hasattr(gpio, "set_status"):
            if self.out_of_service:
                status = "fault"
            elif self.sessions.session is not None or not self.screen.is_home:
                status = "busy"
            elif not self.health.get("bureau", DeviceHealth.ok()).usable:
                status = "offline"
            else:
                status = "ready"
            gpio.set_status(status)

    def apply_config(self, cfg: Any) -> None:
        """Settings a technician changed that take effect without a restart."""
        self.sessions.default_language = cfg["ui.language"]
        self.sessions.default_care_mode = cfg["ui.care_mode"]
        self.sessions.inactivity_s = cfg["session.inactivity_s"]
        self.sessions.countdown_s = cfg["session.countdown_s"]
        self.options.dim_after_s = cfg["ui.dim_after_s"]
        logging.getLogger("kiosk").setLevel(cfg["log.level"].upper())

    def stop(self, code: int = 0) -> None:
        self.exit_code = code
        self.running = False

    def _draw(self) -> None:
        surf = self.surface
        if self.text.log is not None:  # a test checks what this frame draws
            self.text.log.clear()
        surf.fill(COLORS["bg"])
        self.screen.draw(surf)
        self.flows.draw_bars(self, surf)
        self.flows.draw_overlays(self, surf)
        if self.dimmed:
            self.flows.draw_dimmed(self, surf)

    def _collect(self) -> None:
        """Once a session has ended and home is drawn: a full garbage collection. What lived as
        long as the session (its screens, the flows' closures with the citizen's case, card data)
        has reached the oldest generation, which Python collects only when it has grown by a
        quarter: without this, every journey's leftovers in reference cycles would pile up for
        dozens of journeys, and personal data in them with it."""
        self._collect_due = False
        started = time.perf_counter()
        found = gc.collect()
        trimmed = malloc_trim()
        log.debug("event=session_gc found=%d trimmed=%d ms=%.1f", found, trimmed,
                  (time.perf_counter() - started) * 1000)

    def _guard(self, fn: Callable[[], None]) -> None:
        """The failsafe: an error inside a screen shows an apology and returns home."""
        try:
            fn()
        except Exception:
            log.exception("event=screen_error screen=%s", self.stack[-1].name if self.stack else "-")
            self._leave_flow()
            self.sessions.end("error")
            self.stack = [self.flows.FailsafeScreen(self, self.clock.monotonic() + self.options.failsafe_s)]
            try:
                self.stack[-1].layout(self.content_area())
                self.flows.build_bars(self)
            except Exception:  # the failsafe itself must never take the kiosk down
                log.exception("event=failsafe_error")

    @property
    def out_of_service(self) -> bool:
        # config_problem: `kiosk run` started on the fallback config (the image's file was refused).
        return bool(self.config_problem) or self.unprovisioned or not anything_available(self.health)

    @property
    def unprovisioned(self) -> bool:  # no client certificate: it serves nobody until provisioned
        return self.provisioning is not None and self.provisioning.needed()

    def screenshot(self, path: str) -> None:
        pygame.image.save(self.surface, path)
