"""Runs one flow: hands asks to whoever answers them (a screen, or the headless driver), runs Work
on an executor with its timeout, and gives every flow the same back, step indicator, failure
explanations, receipt printing and usage counts. UI-free: the screens and the tests drive it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kiosk.flows.base import Flow, Next
from kiosk.flows.steps import Ask, Outcome, Result, Step, Work, failed
from kiosk.services.errors import explain

log = logging.getLogger(__name__)

# run(work, on_done(result, error)) -> a cancel function. The UI's executor calls on_done on the
# loop thread; the headless one calls it before it returns.
Executor = Callable[[Work, Callable[[Any, BaseException | None], None]], Callable[[], None]]


@dataclass(frozen=True)
class Printing(Work):
    """The runner's own work: a receipt going to the printer before the outcome shows."""

    name: str = "print"


class FlowRunner:
    def __init__(self, flow: Flow, execute: Executor, monotonic: Callable[[], float],
                 on_change: Callable[[FlowRunner], None] = lambda runner: None) -> None:
        self.flow, self._execute, self._monotonic, self._on_change = flow, execute, monotonic, on_change
        self.current: Step | Outcome | None = None
        self.history: list[Ask] = []  # asks since the last committed work: where back may go
        self.receipt_note = ""  # after a receipt was printed (or not): a message id
        self.last_work: Work | None = None
        self._work_started = 0.0
        self._cancel: Callable[[], None] = lambda: None
        self._token = 0  # results of abandoned work carry an old token and are ignored
        self._pending_outcome: Outcome | None = None
        self.finished = False  # an outcome was shown
        self.left = False  # the citizen left the flow

    # ------------------------------------------------------------------ driving
    def start(self) -> None:
        self._advance(self.flow.start())

    def answer(self, value: Any) -> None:
        step = self.current
        if not isinstance(step, Ask):
            raise RuntimeError(f"answer without an ask (current={type(step).__name__})")
        self._advance(self._call(step.then, value))

    @property
    def can_go_back(self) -> bool:
        return isinstance(self.current, Ask) and self.current.back and len(self.history) >= 2

    def back(self) -> bool:
        """Show the previous ask again; False when going back is not safe or there is none."""
        if not self.can_go_back:
            return False
        self.history.pop()
        self.current = self.history[-1]
        log.info("event=flow_back flow=%s step=%s", self.flow.service_id, self.current.then)
        self._on_change(self)
        return True

    def retry(self) -> None:
        """After a failure that trying again can help: the same work once more."""
        if self.last_work is not None:
            self._advance(self.last_work)

    def tick(self, now: float) -> None:
        """The loop's clock: abandon work that outlived its timeout."""
        work = self.current
        if isinstance(work, Work) and now - self._work_started > work.timeout_s:
            self._token += 1
            self._cancel()
            log.warning("event=step_timeout flow=%s step=%s timeout_s=%.0f", self.flow.service_id, work.name,
                        work.timeout_s)
            self._advance(failed("step.timeout.title", "step.timeout.body", name="timeout"))

    def abandon(self) -> None:
        """The citizen left (home, timeout, session end): ignore whatever is still running."""
        self._token += 1
        self._cancel()
        self.left = True

    def print_receipt(self) -> None:
        """A receipt on request (a query's result): print, then the same outcome with a note."""
        outcome = self.current
        if isinstance(outcome, Outcome) and outcome.receipt is not None:
            self._print(outcome)

    @property
    def indicator(self) -> tuple[int, int] | None:
        return self.flow.stage_of(self.current) if isinstance(self.current, Step) else None

    # ------------------------------------------------------------------ internals
    def _call(self, step_id: str, value: Any) -> Next:
        return self.flow.step(step_id, value)

    def _advance(self, nxt: Next) -> None:
        if isinstance(nxt, Outcome):
            self._finish(nxt)
        elif isinstance(nxt, Work):
            self._run(nxt)
        elif isinstance(nxt, Ask):
            self.history.append(nxt)
            self.current = nxt
            self._on_change(self)
        else:
            raise TypeError(f"a step returned {type(nxt).__name__}, not a Step or an Outcome")

    def _run(self, work: Work) -> None:
        self._token += 1
        token = self._token
        self.current, self._work_started = work, self._monotonic()
        if not isinstance(work, Printing):
            self.last_work = work
        log.info("event=flow_work flow=%s step=%s", self.flow.service_id, work.name)
        self._on_change(self)
        self._cancel = self._execute(work, lambda result, error: self._done(token, work, result, error))

    def _done(self, token: int, work: Work, result: Any, error: BaseException | None) -> None:
        if token != self._token or self.left:
            return  # abandoned: timed out, or the citizen left
        if work.commits and error is None:
            self.history.clear()  # written to a card or submitted: no way back past this
        if isinstance(work, Printing):
            self._printed(result, error)
            return
        if error is None:
            self._advance(self._call(work.then, result))
            return
        if work.on_error:
            try:
                self._advance(self._call(work.on_error, error))
                return
            except BaseException as exc:
                if exc is not error:
                    raise
        self._advance(self._explained(error))

    def _explained(self, error: BaseException) -> Outcome:
        ex = explain(error)
        log.info("event=citizen_error flow=%s error=%s", self.flow.service_id, type(error).__name__)
        return failed(ex.title, ex.body, retry=ex.retry, fields=ex.fields, name="message")

    def _finish(self, outcome: Outcome) -> None:
        if outcome.receipt is not None and outcome.print_now and outcome.result is not Result.FAILED:
            self._print(outcome)
            return
        self._show(outcome)

    def _print(self, outcome: Outcome) -> None:
        self._pending_outcome = outcome
        build = outcome.receipt
        assert build is not None
        desk = self.flow.desk
        self._run(Printing(then="", fn=lambda: desk.print_receipt(build()), message="receipt.printing",
                           timeout_s=30.0))

    def _printed(self, result: Any, error: BaseException | None) -> None:
        if error is not None:
            log.warning("event=receipt_failed flow=%s error=%r", self.flow.service_id, error)
            self.receipt_note = "result.receipt_failed"
        else:
            self.receipt_note = "result.receipt_printed" if result.printed else result.reason_key
        outcome = self._pending_outcome
        assert outcome is not None
        self._show(replace(outcome, print_now=False) if outcome.print_now else outcome)

    def _show(self, outcome: Outcome) -> None:
        # Counted once (a receipt printed on request shows it again); a failure that may be
        # retried is not counted yet.
        if not self.finished and not (outcome.result is Result.FAILED and outcome.retry):
            self.flow.desk.count("failed" if outcome.result is Result.FAILED else "completed")
            self.finished = True
        self.current = outcome
        self.history.clear()
        log.info("event=flow_outcome flow=%s result=%s name=%s", self.flow.service_id, outcome.result.value,
                 outcome.name)
        self._on_change(self)

    def __repr__(self) -> str:
        return f"<FlowRunner flow={self.flow!r} current={type(self.current).__name__}>"
