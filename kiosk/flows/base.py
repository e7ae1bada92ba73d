"""A citizen journey as a plain-Python handler, in the shape of Home Assistant's data entry flows:
`start()` and every `step_<id>(answer)` return the next Step (ask, work) or an Outcome. Flows
hold the rules, the timeouts and the payloads; they call the Desk (services) only inside Work
steps, so the UI loop never blocks; they never import pygame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from kiosk.flows.steps import Outcome, Step

if TYPE_CHECKING:
    from kiosk.services.desk import Desk
    from kiosk.services.queries import Assurance

Next = Step | Outcome


@dataclass(frozen=True)
class Identity:
    """Who the citizen proved to be in this session, and how. A card identity holds while the same
    card stays in the reader; a face identity for the session ("another service" reuses it)."""

    id_number: str
    name: str
    assurance: Assurance
    card_number: str = ""  # set for a card identity: the card in the reader

    @property
    def by_card(self) -> bool:
        return bool(self.card_number)

    def __repr__(self) -> str:
        return f"<Identity by_card={self.by_card} method={self.assurance.method}>"


@dataclass
class Context:
    """What a flow gets from the kiosk: the desk, the session's memory, which devices work now."""

    desk: Desk
    reader_ok: bool = True
    camera_ok: bool = True
    idcard_ok: bool = False  # a resident ID card reader is configured and working
    qr_ok: bool = False  # an e-card QR code can be read (a barcode scanner, or the camera)
    bureau_ok: bool = False  # the bureau can be reached now (an e-card QR is checked only online)
    identity: Identity | None = None  # from an earlier service of this session
    remember: Callable[[str, Any], None] = field(default=lambda key, value: None)
    # run this when the session ends (its data wiped): stop a camera preview, say
    on_wipe: Callable[[Callable[[], None]], None] = field(default=lambda wiper: None)
    language: str = "zh_CN"


class Flow:
    """One journey. Subclasses set `service_id`, `title` (the bar's message id) and `STAGES` (for
    the step indicator), and implement start() and their step_<id> methods."""

    service_id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    STAGES: ClassVar[tuple[str, ...]] = ()
    # a flow that needs somewhere to store its submission says so before it asks for anything
    submits: ClassVar[bool] = False

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.desk = ctx.desk
        self.identity: Identity | None = None

    def start(self) -> Next:
        raise NotImplementedError

    def step(self, step_id: str, answer: Any) -> Next:
        handler: Callable[[Any], Next] | None = getattr(self, f"step_{step_id}", None)
        if handler is None:
            raise LookupError(f"{type(self).__name__} has no step_{step_id}")
        return handler(answer)

    def stage_of(self, step: Step) -> tuple[int, int] | None:
        """(n, of) for the step indicator, or None when the step names no stage."""
        if not step.stage or step.stage not in self.STAGES:
            return None
        return self.STAGES.index(step.stage) + 1, len(self.STAGES)

    def identified(self, who: Identity) -> Next:
        """Where identification (kiosk.flows.identify) hands over; flows that identify override it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} identity={self.identity!r}>"
