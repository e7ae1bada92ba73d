"""The citizen services offered on the home screen and the devices each one needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kiosk.hw.health import DeviceHealth


@dataclass(frozen=True)
class ServiceSpec:
    """A home-screen tile. `needs` is a conjunction of alternatives: (("camera",), ("reader", "camera"))
    means the camera, and either the reader or the camera."""

    id: str
    needs: tuple[tuple[str, ...], ...]
    icon: str  # a short glyph drawn on the tile; decoration only, the title carries the meaning

    @property
    def title_key(self) -> str:
        return f"service.{self.id}.title"

    @property
    def hint_key(self) -> str:
        return f"service.{self.id}.hint"


IDENTIFY = ("reader", "camera")  # card + PIN, or ID number + liveness

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("pension_auth", (("camera",), ("outbox",)), "认"),
    ServiceSpec("family_auth", (("camera",), ("outbox",)), "亲"),
    ServiceSpec("annual_review", (("camera",), ("outbox",)), "审"),
    ServiceSpec("activate_card", (("reader",), ("outbox",)), "启"),
    ServiceSpec("change_pin", (("reader",),), "密"),
    ServiceSpec("reset_pin", (("reader",), ("camera",), ("bureau",), ("outbox",)), "重"),
    ServiceSpec("report_lost", (("camera",), ("outbox",)), "挂"),
    ServiceSpec("payment_records", (IDENTIFY, ("bureau",)), "缴"),
    ServiceSpec("pension_received", (IDENTIFY, ("bureau",)), "领"),
    ServiceSpec("balances", (IDENTIFY, ("bureau",)), "余"),
    ServiceSpec("application_progress", (("bureau",),), "进"),
    ServiceSpec("apply_card", (("camera",), ("outbox",)), "申"),
    ServiceSpec("participation_certificate", (IDENTIFY, ("bureau",), ("printer",)), "证"),
    ServiceSpec("apply_ecard", (IDENTIFY, ("bureau",)), "电"),
    ServiceSpec("family_account", (IDENTIFY, ("bureau",)), "家"),
)


@dataclass(frozen=True)
class Group:
    """A section of the standard home: its services under one heading with a pictogram."""

    id: str
    services: tuple[str, ...]  # in this order; ids not (yet) in SERVICES are left out
    pictogram: str  # kiosk.screens.pictograms

    @property
    def title_key(self) -> str:
        return f"group.{self.id}.title"


# The home's three sections (养老认证 / 社保卡 / 查询打印); a service of SERVICES that no group
# names still shows, in the last group, rather than disappear.
GROUPS: tuple[Group, ...] = (
    Group("certify", ("pension_auth", "annual_review", "family_auth", "family_account"), "certify"),
    Group("card", ("activate_card", "change_pin", "reset_pin", "report_lost", "apply_card", "apply_ecard"), "card"),
    Group("query", ("payment_records", "pension_received", "balances", "application_progress",
                    "participation_certificate"), "query"),
)


def home_groups() -> tuple[tuple[Group, tuple[ServiceSpec, ...]], ...]:
    """Each group with the services this build offers, in the group's order."""
    by_id = {s.id: s for s in SERVICES}
    named = {sid for g in GROUPS for sid in g.services}
    stray = tuple(s for s in SERVICES if s.id not in named)
    out = []
    for i, g in enumerate(GROUPS):
        specs = tuple(by_id[sid] for sid in g.services if sid in by_id)
        out.append((g, specs + stray if i == len(GROUPS) - 1 else specs))
    return tuple((g, specs) for g, specs in out if specs)


@dataclass(frozen=True)
class CareTile:
    """A tile of the care-mode home (长辈模式): a service, or a group of services opened on a
    screen of their own (one question per screen)."""

    id: str
    services: tuple[str, ...]  # one: the tile opens it; more: the tile opens their group
    pictogram: str  # kiosk.screens.pictograms

    @property
    def title_key(self) -> str:
        return f"care.{self.id}.title"

    @property
    def hint_key(self) -> str:
        return f"care.{self.id}.hint"

    def specs(self) -> tuple[ServiceSpec, ...]:
        return tuple(s for s in SERVICES if s.id in self.services)


# The most used services, large, with pictograms; call staff is the home's last tile.
CARE_HOME: tuple[CareTile, ...] = (
    CareTile("pension_auth", ("pension_auth",), "certify"),
    CareTile("queries", ("payment_records", "pension_received", "balances", "application_progress",
                         "participation_certificate"), "query"),
    CareTile("card", ("activate_card", "change_pin", "reset_pin", "report_lost", "apply_card", "apply_ecard"), "card"),
    CareTile("family", ("family_auth", "annual_review", "family_account"), "family"),
)


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""  # message key of the first missing device's health reason
    device: str = ""


def availability(spec: ServiceSpec, health: Mapping[str, DeviceHealth]) -> Availability:
    for alternatives in spec.needs:
        usable = [d for d in alternatives if d in health and health[d].usable]
        if not usable:
            first = alternatives[0]
            h = health.get(first)
            reason = h.reason if h is not None and h.reason else f"health.{first}.offline"
            return Availability(False, reason, first)
    return Availability(True)


def anything_available(health: Mapping[str, DeviceHealth]) -> bool:
    return any(availability(s, health).available for s in SERVICES)
