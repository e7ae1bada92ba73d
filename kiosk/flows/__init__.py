"""Citizen journeys as UI-free flows (DESIGN.md "flow layer"): each one a plain-Python handler
whose steps ask, work or finish (kiosk.flows.steps). Screens render the steps; tests drive the
flows headless (kiosk.flows.driver). Nothing here imports pygame."""

from __future__ import annotations

from kiosk.flows.base import Context, Flow, Identity
from kiosk.flows.runner import FlowRunner

__all__ = ["FLOWS", "Context", "Flow", "FlowRunner", "Identity", "flow_for"]


# the modules that hold citizen flows
MODULES = ("card", "certify", "queries", "requests", "certificate", "ecard_apply", "family")


def _flows() -> dict[str, type[Flow]]:
    import importlib
    import importlib.util

    found: dict[str, type[Flow]] = {}
    for name in MODULES:
        if importlib.util.find_spec(f"kiosk.flows.{name}") is None:
            continue
        module = importlib.import_module(f"kiosk.flows.{name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Flow) and value.__dict__.get("service_id"):
                found[value.service_id] = value
    return found


FLOWS: dict[str, type[Flow]] = {}


def flow_for(service_id: str) -> type[Flow] | None:
    """The flow of a home tile's service, None when this build offers it at the counter only."""
    if not FLOWS:
        FLOWS.update(_flows())
    return FLOWS.get(service_id)
