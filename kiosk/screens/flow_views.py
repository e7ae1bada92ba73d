"""Which screen draws which kind of flow step: a table from step type to view. Each view only
draws the step and hands the citizen's answer to the host."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.flows import steps as st
from kiosk.i18n.dates import long_date
from kiosk.screens.base import Screen
from kiosk.screens.card_screens import InsertCardScreen, PlaceIdCardScreen, ShowQrScreen, WaitCardScreen
from kiosk.screens.common import Action, Choice, ChoiceScreen, MessageScreen, WaitScreen
from kiosk.screens.entry import IdEntryScreen, PinEntryScreen
from kiosk.screens.face_screens import ConfirmScreen, ConsentScreen, Fact, PicturesScreen
from kiosk.screens.liveness import LivenessScreen
from kiosk.screens.name_entry import NameEntryScreen
from kiosk.screens.outcome import Stage, TableScreen, TimelineScreen
from kiosk.screens.records import YearScreen
from kiosk.screens.request_screens import PhoneScreen, PhotoScreen

if TYPE_CHECKING:
    from kiosk.flows import Flow, FlowRunner
    from kiosk.screens.shell import UI


class FlowHost(Protocol):
    """What a view needs of the host (kiosk.screens.flow_host.FlowHost)."""

    ui: UI
    flow: Flow
    runner: FlowRunner

    def answer(self, value: Any) -> None: ...

    def finish(self) -> None: ...

    def abandon(self) -> None: ...

    def print_receipt(self) -> None: ...


View = Callable[[FlowHost, Any], Screen]


def _work(host: FlowHost, step: st.Work) -> Screen:
    return WaitScreen(host.ui, step.title or "wait.bar", step.message, step.timeout_s, lambda: None, name="wait")


def _card_in(host: FlowHost, step: st.WaitForCard) -> Screen:
    return InsertCardScreen(host.ui, wait_s=step.timeout_s - 5, message=step.message)


def _idcard(host: FlowHost, step: st.WaitForIdCard) -> Screen:
    return PlaceIdCardScreen(host.ui, wait_s=step.timeout_s - 5)


def _qr(host: FlowHost, step: st.ScanQr) -> Screen:
    return ShowQrScreen(host.ui, wait_s=step.timeout_s - 5)


def _swap(host: FlowHost, step: st.SwapCard) -> Screen:
    return WaitCardScreen(host.ui, step.message, step.present)


def _liveness(host: FlowHost, step: st.CheckLiveness) -> Screen:
    assert step.check is not None, "a liveness step without its check"
    return LivenessScreen(host.ui, step.check, step.attempt, step.title or "liveness.bar")


def _pin(host: FlowHost, step: st.AskPin) -> Screen:
    on_forgot = None
    if step.forgot and host.flow.service_id != "reset_pin":
        from kiosk.services.catalog import SERVICES, availability

        reset = next(s for s in SERVICES if s.id == "reset_pin")
        if availability(reset, host.ui.health).available:
            def on_forgot() -> None:  # this flow ends; the reset reads the card still in the reader
                ui = host.ui
                host.abandon()
                ui.flow_host = None
                ui.flows.start(ui, reset)
    screen = PinEntryScreen(host.ui, host.answer, attempts_left=step.attempts_left, message=step.problem,
                            hint=step.hint, on_forgot=on_forgot, forgot_note=step.forgot)
    screen.title_key = step.title or screen.title_key
    return screen


def _choice(host: FlowHost, step: st.AskChoice) -> Screen:
    choices = [Choice(o.label, o.value, o.hint, o.enabled, dict(o.fields)) for o in step.options]
    return ChoiceScreen(host.ui, step.title, step.prompt, choices, host.answer, columns=step.columns, name=step.name)


def _confirm(host: FlowHost, step: st.AskConfirm) -> Screen:
    retry = step.yes == "nav.try_again"
    actions = [Action(step.yes, lambda: host.answer(True), "danger" if step.danger else "primary",
                      "retry" if retry else "yes"),
               Action("nav.home" if retry else "nav.cancel", host.finish, "secondary", "home" if retry else "cancel")]
    fields = {k: st.shown(v, host.ui.t) for k, v in step.fields.items()}
    return MessageScreen(host.ui, step.title, step.body, actions, kind="error" if retry else "info", name=step.name,
                         **fields)


def _id(host: FlowHost, step: st.AskIdNumber) -> Screen:
    return IdEntryScreen(host.ui, host.answer)


def _name(host: FlowHost, step: st.AskName) -> Screen:
    return NameEntryScreen(host.ui, host.answer)


def _consent(host: FlowHost, step: st.AskConsent) -> Screen:
    return ConsentScreen(host.ui, step.body, lambda: host.answer(True), lambda: host.answer(False))


def _pictures(host: FlowHost, step: st.AskPictures) -> Screen:
    assert step.pictures is not None, "pictures to show"
    return PicturesScreen(host.ui, step.pictures, lambda: host.answer(True), lambda: host.answer(False))


def _photo(host: FlowHost, step: st.AskPhoto) -> Screen:
    assert step.check is not None
    return PhotoScreen(host.ui, host.answer, step.preview, step.check)


def _phone(host: FlowHost, step: st.AskPhone) -> Screen:
    return PhoneScreen(host.ui, host.answer, step.prompt)


def _review(host: FlowHost, step: st.AskReview) -> Screen:
    facts = [Fact(f.label, f.value, f.translate) for f in step.facts]
    return ConfirmScreen(host.ui, step.title, facts, lambda: host.answer(True), step.pictures)


# Most specific first: a WaitForCard is also a Work.
VIEWS: tuple[tuple[type, View], ...] = (
    (st.WaitForCard, _card_in), (st.WaitForIdCard, _idcard), (st.ScanQr, _qr), (st.SwapCard, _swap), (st.CheckLiveness, _liveness), (st.Work, _work),
    (st.AskPin, _pin), (st.AskChoice, _choice), (st.AskConfirm, _confirm), (st.AskIdNumber, _id),
    (st.AskName, _name), (st.AskConsent, _consent), (st.AskPictures, _pictures), (st.AskReview, _review),
    (st.AskPhoto, _photo), (st.AskPhone, _phone),
)


def view_for(host: FlowHost, step: st.Step) -> Screen:
    for kind, view in VIEWS:
        if isinstance(step, kind):
            return view(host, step)
    raise LookupError(f"no screen draws a {type(step).__name__}")


def outcome_screen(host: FlowHost, out: st.Outcome, fields: dict[str, Any]) -> Screen | None:
    """Outcomes with a table or a timeline have screens of their own (queries); None otherwise."""
    ui, title = host.ui, host.flow.title
    if out.table is not None:
        t = out.table
        rows = [[st.shown(cell, ui.t) for cell in row] for row in t.rows]
        totals = [(label, st.shown(value, ui.t)) for label, value in t.totals]
        on_print = host.print_receipt if out.receipt is not None else None
        if t.year is not None:  # a month per row: the whole year on one screen
            table: TableScreen = YearScreen(ui, title, out.title, list(t.columns), rows, t.year, t.flagged, totals,
                                            on_print=on_print, name=out.name, count=False, **fields)
        else:
            table = TableScreen(ui, title, out.title, list(t.columns), rows, totals, on_print=on_print,
                                name=out.name, count=False, **fields)
        table.on_finish = host.finish
        if host.runner.receipt_note:
            ui.toast = (host.runner.receipt_note, ui.clock.monotonic() + ui.options.toast_s)
        return table
    if out.timeline:
        stages = [Stage(m.label, long_date(m.when, ui.lang), m.state) for m in out.timeline]  # 2026年3月4日
        return TimelineScreen(ui, title, out.title, stages, note=out.body, name=out.name, count=False,
                              on_finish=host.finish, **fields)
    return None
