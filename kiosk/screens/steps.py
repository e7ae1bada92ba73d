"""Small glue for flows: run a blocking service call on a worker behind a progress screen, and
turn any failure into a plain message with a way forward."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.screens.common import Action, MessageScreen, WaitScreen
from kiosk.services.errors import explain

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)


def run_step(ui: UI, message: str, fn: Callable[..., Any], *args: Any, on_ok: Callable[[Any], None],
             on_error: Callable[[BaseException], None] | None = None, timeout_s: float = 30.0,
             title: str = "wait.bar", name: str = "wait") -> None:
    """Show progress while fn runs on a worker; the loop never blocks. A job that outlives
    timeout_s is abandoned (its late result is ignored) and reported as a timeout."""
    session = ui.sessions.session.token if ui.sessions.session else 0
    state = {"abandoned": False}

    def done(job: Any) -> None:
        if state["abandoned"]:
            return
        if job.error is not None:
            (on_error or (lambda e: show_error(ui, e)))(job.error)
        else:
            on_ok(job.result())

    def timed_out() -> None:
        state["abandoned"] = True
        log.warning("event=step_timeout step=%s timeout_s=%.0f", name, timeout_s)
        show_message(ui, "step.timeout.title", "step.timeout.body", retry=None)

    ui.show(WaitScreen(ui, title, message, timeout_s, timed_out, name=name), replace=ui.screen.name == "wait")
    ui.workers.submit(name, fn, *args, session=session, on_done=done)


def show_message(ui: UI, title: str, body: str, retry: Callable[[], None] | None, kind: str = "error",
                 **fields: Any) -> None:
    if kind == "error" and retry is None and getattr(ui, "services", None) is not None:
        ui.services.count("failed")
    actions = []
    if retry is not None:
        actions.append(Action("nav.try_again", retry, "primary", "retry"))
    actions.append(Action("nav.home", lambda: ui.go_home("error"), "secondary" if retry else "primary", "home"))
    ui.show(MessageScreen(ui, title, body, actions, kind=kind, **fields), replace=ui.screen.name in ("wait", "message"))


def show_error(ui: UI, exc: BaseException, retry: Callable[[], None] | None = None) -> None:
    ex = explain(exc)
    log.info("event=citizen_error error=%s screen=%s", type(exc).__name__, ui.screen.name)
    show_message(ui, ex.title, ex.body, retry if ex.retry else None, **ex.fields)
