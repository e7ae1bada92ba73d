"""The UI shell as the screens see it: a Protocol the shell (kiosk.screens.ui.UI) implements.
Screens type their `ui` with it, so no screen module imports the shell and the screens import
each other without a circle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pygame

from kiosk.runtime.clock import Clock
from kiosk.runtime.workers import Workers
from kiosk.screens.text import TextRenderer
from kiosk.screens.theme import Theme
from kiosk.services.health import DeviceHealth
from kiosk.services.session import SessionManager

Color = tuple[int, int, int] | tuple[int, int, int, int]


@dataclass
class UIOptions:
    language: str = "zh_CN"
    care_mode: bool = False
    inactivity_s: float = 60.0
    countdown_s: float = 20.0
    failsafe_s: float = 3.0
    kiosk_mode: bool = True
    font_path: str = ""
    toast_s: float = 6.0
    dim_after_s: float = 120.0


class UI(Protocol):
    surface: pygame.Surface
    clock: Clock
    options: UIOptions
    theme: Theme
    text: TextRenderer
    sessions: SessionManager
    workers: Workers
    health: dict[str, DeviceHealth]
    translators: dict[str, Any]
    services: Any  # kiosk.services.container.CitizenServices
    desk: Any  # kiosk.services.desk.Desk
    voice: Any  # kiosk.screens.voice.Voice
    maintenance: Any  # kiosk.services.maintenance.MaintenanceContext
    gpio: Any
    flow_host: Any  # kiosk.screens.flow_host.FlowHost, when a flow is on screen
    toast: tuple[str, float] | None
    bar_buttons: list[Any]
    config_problem: str
    provisioning: Any  # kiosk.services.stick_provision.FirstProvisioning
    stack: list[Any]
    last_touch_at: float

    @property
    def flows(self) -> Any: ...  # the router module, kiosk.screens.flows

    @property
    def screen(self) -> Any: ...

    @property
    def lang(self) -> str: ...

    @property
    def out_of_service(self) -> bool: ...

    @property
    def unprovisioned(self) -> bool: ...

    def t(self, key: str, **fields: Any) -> str: ...

    def draw_lines(self, surf: pygame.Surface, lines: list[str], size: int, color: Color, cx: int, top: int,
                   bold: bool = False, align: str = "center", *, role: str = "",
                   box: pygame.Rect | None = None) -> int: ...

    def draw_text(self, surf: pygame.Surface, key: str, role: str, color: Color, rect: pygame.Rect,
                  max_lines: int = 3, bold: bool = False, align: str = "center", **fields: Any) -> int: ...

    def content_area(self) -> pygame.Rect: ...

    def show(self, screen: Any, replace: bool = False) -> None: ...

    def back(self) -> None: ...

    def go_home(self, why: str = "home") -> None: ...

    def home_in_session(self) -> None: ...

    def relayout(self) -> None: ...

    def register_wipe(self, wiper: Callable[[], None]) -> None: ...

    def set_language(self, lang: str) -> None: ...

    def toggle_care_mode(self) -> None: ...

    def call_staff(self) -> None: ...

    def apply_config(self, cfg: Any) -> None: ...

    def stop(self, code: int = 0) -> None: ...
