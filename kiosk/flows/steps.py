"""What a flow step returns: ask the citizen for something, do blocking work, or finish with an
outcome. Frozen values; screens render them (one screen per kind), the headless driver answers
them. Message ids, never sentences: the screen translates.

A step names the flow method that receives its answer (`then`): `then="pin"` calls
`flow.step_pin(answer)`. `stage` names the flow's stage for the step indicator ("第 2 步，共 5 步").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.services.face_check import FaceCheck, FacePictures
    from kiosk.services.receipts import ReceiptDocument


@dataclass(frozen=True)
class Step:
    then: str  # the flow method (step_<then>) that receives the answer or the work's result
    title: str = ""  # the title bar's message id; "" keeps the flow's own
    stage: str = ""  # one of the flow's STAGES, for the step indicator


class Text(str):
    """A value shown translated (a table cell, a fact, a field): the str is the message id,
    `fields` its placeholders' values. Screens show t(value, **value.fields); any other str
    (amounts, months, dates, masked names) as it is."""

    fields: Mapping[str, Any]

    def __new__(cls, key: str, **fields: Any) -> Text:
        self = super().__new__(cls, key)
        self.__dict__["fields"] = MappingProxyType(dict(fields))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Text is immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return str.__eq__(self, other) and dict(self.fields) == dict(other.fields)
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Text({str.__repr__(self)}, {dict(self.fields)!r})"


def shown(value: Any, t: Callable[..., str]) -> Any:
    """What a screen shows for a value: a Text translated by `t`, anything else as it is."""
    return t(str(value), **value.fields) if isinstance(value, Text) else value


# ---------------------------------------------------------------------------------- asks
@dataclass(frozen=True)
class Ask(Step):
    """The citizen answers; going back to it is safe unless `back` is False."""

    back: bool = True


@dataclass(frozen=True)
class Option:
    label: str  # message id
    value: Any
    hint: str = ""
    enabled: bool = True
    fields: Mapping[str, Any] = field(default_factory=dict)  # placeholders of label and hint


@dataclass(frozen=True)
class AskChoice(Ask):
    prompt: str = ""
    options: tuple[Option, ...] = ()
    columns: int = 2
    name: str = "choice"  # the screen's name (screenshots and tests)


@dataclass(frozen=True)
class AskPin(Ask):
    """The card's PIN (answer: the PIN as bytearray, wiped by whoever reads it)."""

    hint: str = ""  # e.g. the initial PIN printed on the card's letter
    problem: str = ""  # why the last one was refused (a message id)
    attempts_left: int | None = None
    forgot: bool = False  # the card's own PIN: the screen offers the way to reset a forgotten one


@dataclass(frozen=True)
class AskConfirm(Ask):
    """Check what is about to happen: a body with fields, and yes (answer True) or back/cancel."""

    body: str = ""
    yes: str = "nav.confirm"
    danger: bool = False
    name: str = "confirm"
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AskIdNumber(Ask):
    """An 18-character resident ID number, its check digit verified by the keypad (answer: str)."""


@dataclass(frozen=True)
class AskName(Ask):
    """The citizen's name, typed in pinyin and picked from candidates (answer: str)."""


@dataclass(frozen=True)
class AskConsent(Ask):
    """Consent to the face check (answer: True to agree, False to decline)."""

    body: str = "consent.body_self"


@dataclass(frozen=True)
class Fact:
    label: str  # message id
    value: str  # a message id when `translate`, else shown as it is (masked by the flow)
    translate: bool = False


@dataclass(frozen=True)
class AskReview(Ask):
    """The facts of a submission, with the face pictures when there are some (answer: True)."""

    facts: tuple[Fact, ...] = ()
    pictures: FacePictures | None = None


@dataclass(frozen=True)
class AskPictures(Ask):
    """The four pictures just taken: use them (answer True) or take them again (False)."""

    pictures: FacePictures | None = None


@dataclass(frozen=True)
class AskPhone(Ask):
    """A mobile phone number (answer: str of 11 digits)."""

    prompt: str = "apply.phone_prompt"  # what the number is for (a message id)


@dataclass(frozen=True)
class AskPhoto(Ask):
    """An ID photo taken by the camera and checked for the card (answer: JPEG bytes).
    `preview` gives the live picture to aim by (latest(), stop()); `check` judges a still (the
    screen runs it on a worker)."""

    preview: Any = None
    check: Callable[[Any], Any] | None = None


# ---------------------------------------------------------------------------------- work
@dataclass(frozen=True)
class Work(Step):
    """Blocking work the runner does on a worker thread while a progress screen shows `message`.
    `fn` gets nothing; its result (or its exception, when `on_error` names a step) goes to
    `step_<then>`. Without `on_error` a failure ends the flow, explained, with a retry where
    trying again can help. `commits` marks work that writes to a card or submits: back stops
    there."""

    fn: Callable[[], Any] = field(default=lambda: None, compare=False, repr=False)
    message: str = "wait.body"
    timeout_s: float = 30.0
    on_error: str = ""
    commits: bool = False
    name: str = "work"  # for logs and the progress screen's name


@dataclass(frozen=True)
class WaitForCard(Work):
    """Work that waits for a card to be inserted (and reads it): drawn as a card going in."""

    name: str = "insert_card"


@dataclass(frozen=True)
class WaitForIdCard(Work):
    """Work that waits for a resident ID card on the reader's pad (and reads it)."""

    name: str = "place_idcard"


@dataclass(frozen=True)
class ScanQr(Work):
    """Work that waits for the e-card QR code on the citizen's phone (scanner or camera)."""

    name: str = "scan_qr"


@dataclass(frozen=True)
class SwapCard(Work):
    """Work that waits for a card to go out (present=False) or in (present=True) unread."""

    present: bool = False
    name: str = "swap_card"


@dataclass(frozen=True)
class CheckLiveness(Work):
    """The liveness check: `fn` runs it; `check` is the running check the screen shows (its
    preview frame, events and countdown). `attempt` of the settings' attempts."""

    check: FaceCheck | None = field(default=None, compare=False, repr=False)
    attempt: int = 1
    name: str = "liveness"


# ---------------------------------------------------------------------------------- outcomes
class Result(str, Enum):
    DONE = "done"  # it happened: the bureau acknowledged it, or the card was written
    PENDING = "pending"  # accepted and queued: the bureau decides later
    FAILED = "failed"  # it did not happen; `body` says why and what to do
    INFO = "info"  # nothing was asked of the bureau (a query's answer, "nothing to do")


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]  # message ids
    rows: tuple[tuple[str, ...], ...]
    totals: tuple[tuple[str, str], ...] = ()  # (message id, value)
    # One row per month of `year` (the first column "YYYY-MM"): shown as the whole year at a glance,
    # the totals as the year's. `flagged`: the rows that need the citizen's attention (months owed),
    # marked in words and colour.
    year: int | None = None
    flagged: tuple[bool, ...] = ()


@dataclass(frozen=True)
class Milestone:
    label: str  # message id
    when: str
    state: str  # done / current / pending


@dataclass(frozen=True)
class Outcome:
    """The end of a flow. The result screen renders `result` truthfully: done, pending (with what
    happens if the bureau refuses and the hotline), failed (with the way forward)."""

    result: Result
    title: str
    body: str
    reference: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    facts: tuple[tuple[str, str], ...] = ()  # (message id, value) shown under the body
    table: Table | None = None
    timeline: tuple[Milestone, ...] = ()
    receipt: Callable[[], ReceiptDocument] | None = field(default=None, compare=False, repr=False)  # the document
    print_now: bool = True  # print the receipt at once (a submission) or on request (a query)
    retry: bool = False  # failed, and trying again can help
    name: str = "result"
    qr: str = ""  # a link the citizen opens with their phone, shown as a QR code (in the reference's place)
    qr_caption: str = ""  # message id under that QR code


def done(title: str, body: str, **kw: Any) -> Outcome:
    return Outcome(Result.DONE, title, body, **kw)


def pending(title: str, body: str, **kw: Any) -> Outcome:
    return Outcome(Result.PENDING, title, body, **kw)


def failed(title: str, body: str, **kw: Any) -> Outcome:
    return Outcome(Result.FAILED, title, body, **kw)


def info(title: str, body: str, **kw: Any) -> Outcome:
    return Outcome(Result.INFO, title, body, **kw)


def options(items: Sequence[tuple[str, Any]]) -> tuple[Option, ...]:
    return tuple(Option(label, value) for label, value in items)
