"""Which flow a home-screen tile starts: flow modules register themselves here by service id."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.screens.ui import UI

FLOWS: dict[str, Callable[[UI], None]] = {}


def flow(service_id: str) -> Callable[[Callable[[UI], None]], Callable[[UI], None]]:
    def register(start: Callable[[UI], None]) -> Callable[[UI], None]:
        FLOWS[service_id] = start
        return start

    return register
