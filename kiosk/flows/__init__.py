"""Citizen journeys as UI-free flows (DESIGN.md "flow layer"): each one a plain-Python handler
whose steps ask, work or finish (kiosk.flows.steps). Screens render the steps; tests drive the
flows headless (kiosk.flows.driver). Nothing here imports pygame."""

from __future__ import annotations

from kiosk.flows.base import Context, Flow, Identity
from kiosk.flows.runner import FlowRunner

__all__ = ["FLOWS", "Context", "Flow", "FlowRunner", "Identity", "flow_for"]


def _flows() -> dict[str, type[Flow]]:
    from kiosk.flows.card import ActivateCard, ChangePin, ResetPin

    return {f.service_id: f for f in (ActivateCard, ChangePin, ResetPin)}


FLOWS: dict[str, type[Flow]] = {}


def flow_for(service_id: str) -> type[Flow] | None:
    """The flow of a home tile's service, None when this build offers it at the counter only."""
    if not FLOWS:
        FLOWS.update(_flows())
    return FLOWS.get(service_id)
