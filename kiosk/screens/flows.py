"""The shell's router: which screen a tile opens (its flow, through the flow host), the bars and
overlays around every screen, and home swapped for out-of-service as devices come and go."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.flows import flow_for
from kiosk.screens.chrome import build_bars, draw_bars, draw_dimmed, draw_overlays, overlay_buttons
from kiosk.screens.entry import IdEntryScreen, PinEntryScreen
from kiosk.screens.home import HomeScreen
from kiosk.screens.maintenance import MaintenanceScreen, TechPinScreen
from kiosk.screens.system import FailsafeScreen, OutOfServiceScreen, ServicePendingScreen
from kiosk.services.catalog import ServiceSpec

if TYPE_CHECKING:
    from kiosk.screens.base import Screen
    from kiosk.screens.shell import UI

__all__ = [
    "FailsafeScreen",
    "HomeScreen",
    "IdEntryScreen",
    "MaintenanceScreen",
    "OutOfServiceScreen",
    "PinEntryScreen",
    "ServicePendingScreen",
    "TechPinScreen",
    "build_bars",
    "check_service_state",
    "draw_bars",
    "draw_dimmed",
    "draw_overlays",
    "entry_screen_for",
    "overlay_buttons",
    "start",
]


def entry_screen_for(ui: UI, spec: ServiceSpec) -> Screen:
    """For a service whose flow this build does not have: identification by ID number leads to a
    plain notice that the service is offered at the counter."""

    def identified(id_number: str) -> None:
        session = ui.sessions.session
        # The ID entry screen is part of a session: showing it began one, and every end of a
        # session (timeout, finish, failsafe, service door) replaces the screen.
        assert session is not None, "ID entry outside a session"
        session.remember("id_number", id_number)
        ui.show(ServicePendingScreen(ui, spec.title_key), replace=True)

    return IdEntryScreen(ui, identified)


def start(ui: UI, spec: ServiceSpec) -> None:
    """Start a tile's journey: its flow (kiosk.flows) shown by the flow host, or, for a service
    this build offers only at the counter, the counter notice after the ID number."""
    flow_cls = flow_for(spec.id)
    if flow_cls is not None and ui.desk is not None:
        from kiosk.screens.flow_host import start_flow

        ui.sessions.begin(ui.clock.monotonic())
        ui.services.current_service = spec.id
        ui.services.count("started", spec.id)
        start_flow(ui, flow_cls)
    else:
        ui.show(entry_screen_for(ui, spec))


def check_service_state(ui: UI) -> None:
    """Swap home for out-of-service (and back) as devices come and go."""
    top = ui.screen
    if isinstance(top, HomeScreen) and ui.out_of_service:
        ui.stack = [OutOfServiceScreen(ui)]
        ui.relayout()
    elif isinstance(top, OutOfServiceScreen) and not ui.out_of_service:
        ui.stack = [HomeScreen(ui)]
        ui.relayout()
