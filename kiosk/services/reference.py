"""Bank outlets for "apply for a card", read from the sync daemon's reference cache (no network).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from kiosk.sync.reference_data import OUTLETS, outlet_problem, read_cached

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outlet:
    """A bank outlet that hands out social security cards."""

    outlet_id: str
    name: str
    address: str
    bank: str
    city_code: str
    phone: str = ""
    opening_hours: str = ""


@dataclass(frozen=True)
class OutletList:
    """The cached outlets; `reason` (a message key) says why the list is empty, "" when it is not."""

    outlets: tuple[Outlet, ...]
    reason: str = ""
    version: str = ""
    checked_at: str = ""  # when the daemon last confirmed it with the bureau (RFC 3339, UTC)

    def in_city(self, city_code: str) -> tuple[Outlet, ...]:
        return tuple(o for o in self.outlets if o.city_code == city_code)


def load_outlets(data_dir: Path | str) -> OutletList:
    """The outlet list with its version, or an empty one and the reason."""
    cached = read_cached(Path(data_dir), OUTLETS)
    if cached is None:
        return OutletList((), "reference.outlets.not_yet")
    items = cached.body.get("outlets")
    if not isinstance(items, list):  # the daemon checks before caching: this is a damaged file
        return OutletList((), "reference.outlets.unreadable")
    outlets = tuple(Outlet(**item) for item in items if not outlet_problem(item))
    reason = "" if outlets else "reference.outlets.none"
    return OutletList(outlets, reason, cached.version, cached.checked_at)


def outlets(data_dir: Path | str) -> list[Outlet]:
    """The cached outlets; [] when there is no cache yet (the reason is logged)."""
    found = load_outlets(data_dir)
    if found.reason:
        log.info("event=outlets_unavailable reason=%s", found.reason)
    return list(found.outlets)
