"""Which flow a home-screen tile starts: flow modules register themselves here by service id."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

FLOWS: dict[str, Callable[[UI], None]] = {}

# Identification by face (ID number, liveness, the bureau's verdict), offered beside the card when
# the face flows are installed: (ui, then) where then(id_number, name, assurance, card_in_reader).
FaceIdentifier = Callable[["UI", Callable[[str, str, Any, bool], None]], None]
_face_identifier: list[FaceIdentifier] = []


def set_face_identifier(identify: FaceIdentifier) -> None:
    _face_identifier[:] = [identify]


def face_identifier() -> FaceIdentifier | None:
    return _face_identifier[0] if _face_identifier else None


def flow(service_id: str) -> Callable[[Callable[[UI], None]], Callable[[UI], None]]:
    def register(start: Callable[[UI], None]) -> Callable[[UI], None]:
        FLOWS[service_id] = start
        return start

    return register
