"""Shows a running flow (kiosk.flows): one screen per kind of step, chosen by the step's type; the
answer goes back to the flow. Every flow gets here, not per flow: back where it is safe, the step
indicator, "another service" that keeps the citizen identified, a truthful result (done, accepted
and pending, failed) and the card returned at the end. No screen here opens a device, reads the
bureau or decides a rule: Work runs on the loop's workers, the flow decides."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.flows import Context, Flow, FlowRunner, Identity
from kiosk.flows import steps as st
from kiosk.screens.base import Screen
from kiosk.screens.common import Action, Choice, ChoiceScreen, MessageScreen, WaitScreen
from kiosk.screens.outcome import ResultScreen

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)
KIND = {st.Result.DONE: "ok", st.Result.PENDING: "pending", st.Result.INFO: "info", st.Result.FAILED: "error"}


class FlowHost:
    def __init__(self, ui: UI, flow_cls: type[Flow]) -> None:
        self.ui = ui
        session = ui.sessions.current()
        earlier = session.data.get("identity")
        health = ui.health

        def ok(device: str) -> bool:
            return device in health and health[device].usable

        ctx = Context(ui.desk, reader_ok=ok("reader"), camera_ok=ok("camera"), idcard_ok=ok("idcard"),
                      qr_ok=ok("scanner") or ok("camera"), bureau_ok=ok("bureau"),
                      identity=earlier if isinstance(earlier, Identity) else None,
                      remember=session.remember, on_wipe=ui.register_wipe, language=ui.lang)
        self.flow = flow_cls(ctx)
        self.token = session.token
        self.runner = FlowRunner(self.flow, self._execute, ui.clock.monotonic, on_change=self._render)

    def start(self) -> None:
        self.runner.start()

    # ------------------------------------------------------------------ the runner's side
    def _execute(self, work: st.Work, on_done: Callable[[Any, BaseException | None], None]) -> Callable[[], None]:
        def finished(job: Any) -> None:
            on_done(None if job.error is not None else job.result(), job.error)

        self.ui.workers.submit(work.name, work.fn, session=self.token, on_done=finished)
        check = getattr(work, "check", None)
        return check.cancel if check is not None else (lambda: None)

    def tick(self, now: float) -> None:
        self.runner.tick(now)

    def abandon(self) -> None:
        self.runner.abandon()

    def answer(self, value: Any) -> None:
        self.runner.answer(value)

    # ------------------------------------------------------------------ rendering
    def _render(self, runner: FlowRunner) -> None:
        if self.ui.flow_host is not self:
            return  # this flow was left
        step = runner.current
        screen = self._screen_for(step)
        screen.in_flow = True  # the next step replaces it: a flow is one screen deep over home
        screen.flow_indicator = runner.indicator
        screen.flow_back = self._back if runner.can_go_back else None
        if isinstance(step, st.Outcome) and (self.flow.identity is not None or step.result is not st.Result.FAILED):
            screen.flow_another = self.another  # "办理其他业务": the session (care mode, language) goes on
        if isinstance(step, st.Step) and step.title and not isinstance(step, st.AskConfirm):
            screen.title_key = step.title
        if screen.title_key == "msg.bar.info":  # a content screen's bar names the service, not "提示"
            screen.title_key = self.flow.title
        self.ui.show(screen, replace=self.ui.screen.in_flow)
        self._speak(step)

    def _speak(self, step: st.Step | st.Outcome | None) -> None:
        """长辈模式: each screen's question (or title) is read aloud. A prompt, never a value."""
        voice = self.ui.voice
        if voice is None or not self.ui.sessions.care_mode or step is None:
            return
        if isinstance(step, st.AskChoice) and step.prompt:
            key = step.prompt
        elif isinstance(step, st.Work):
            key = step.message
        else:
            key = step.title or self.flow.title
        try:
            voice.say(key, self.ui.lang)
        except (KeyError, IndexError, ValueError):  # a prompt with placeholders: its title is on screen
            log.debug("event=voice_skipped key=%s", key)

    def language_changed(self) -> None:
        """A result shows values translated when it was built (table cells, facts): build it again
        in the new language. Asks keep their screen (and what was typed on it)."""
        if isinstance(self.runner.current, st.Outcome):
            self._render(self.runner)

    def _back(self) -> None:
        self.runner.back()

    def _screen_for(self, step: Any) -> Screen:
        from kiosk.screens.flow_views import view_for

        if isinstance(step, st.Outcome):
            return self._outcome(step)
        return view_for(self, step)

    # ------------------------------------------------------------------ the end
    def _outcome(self, out: st.Outcome) -> Screen:
        from kiosk.screens.flow_views import outcome_screen

        ui = self.ui
        fields = {k: st.shown(v, ui.t) for k, v in out.fields.items()}
        if out.result is st.Result.FAILED:
            actions = [Action("nav.try_again", self.runner.retry, "primary", "retry")] if out.retry else []
            actions.append(Action("nav.home", self.finish, "secondary" if actions else "primary", "home"))
            screen: Screen = MessageScreen(ui, out.title, out.body, actions, kind="error", **fields)
            screen.outcome = out.name  # type: ignore[attr-defined]
            return screen
        special = outcome_screen(self, out, fields)
        if special is not None:
            return special
        facts = [(label, st.shown(value, ui.t)) for label, value in out.facts]
        screen = ResultScreen(ui, out.title, out.body, reference=out.reference, facts=facts, kind=KIND[out.result],
                              receipt_note=self.runner.receipt_note, on_finish=self.finish, count=False,
                              qr=out.qr, qr_caption=out.qr_caption, **fields)
        if out.receipt is not None and self.runner.receipt_note != "receipt.outcome.not_installed":
            screen.on_reprint = self.print_receipt  # a receipt that did not print: again, once paper is back
        screen.outcome = out.name  # type: ignore[attr-defined]
        return screen

    def print_receipt(self) -> None:
        """A receipt asked for on a result (a query's): printed, then the same result with a note."""
        self.runner.print_receipt()

    def another(self) -> None:
        session = self.ui.sessions.session
        if session is not None and self.flow.identity is not None:
            session.remember("identity", self.flow.identity)
        log.info("event=another_service flow=%s", self.flow.service_id)
        self.ui.home_in_session()

    def finish(self) -> None:
        """The citizen is done: the session ends (its data wiped); a card in the reader comes back."""
        card_in = getattr(self.flow, "card", None) is not None
        self.ui.sessions.end("finish")
        if card_in:
            from kiosk.screens.card_screens import TakeCardScreen

            self.ui.flow_host = None
            self.ui.stack = [TakeCardScreen(self.ui)]
            self.ui.relayout()
        else:
            self.ui.go_home("finish")


def start_flow(ui: UI, flow_cls: type[Flow]) -> FlowHost:
    host = FlowHost(ui, flow_cls)
    ui.flow_host = host
    host.start()
    return host


__all__ = ["Choice", "ChoiceScreen", "FlowHost", "WaitScreen", "start_flow"]
