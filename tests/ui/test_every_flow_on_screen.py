"""Every flow as the screens draw it, in both languages: its first step with the step indicator,
and each kind of outcome (done, accepted-pending, failed, information) with its words, the
reference where there is one, and "another service" once the citizen is identified. Saved as
screenshots; checked for the chrome every flow gets from the flow layer."""

from __future__ import annotations

import pygame
import pytest

from kiosk.flows import FLOWS, Identity, flow_for
from kiosk.flows import steps as st
from kiosk.screens.flow_host import start_flow
from kiosk.services.catalog import SERVICES
from kiosk.services.queries import Assurance
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "every-flow"
OUTCOMES = {
    "done": st.done("card.activate.done.title", "card.activate.done.body", reference="KIOSK0001-20261201-000001-T"),
    "pending": st.pending("card.activate.pending.title", "card.activate.pending.body",
                          reference="KIOSK0001-20261201-000002-D"),
    "failed": st.failed("card.error.pin_blocked.title", "card.error.pin_blocked.body"),
    "failed-retry": st.failed("query.error.offline.title", "query.error.offline.body", retry=True),
    "info": st.info("card.activate.already.title", "card.activate.already.body"),
}


@pytest.fixture(scope="module", params=["zh_CN", "en"])
def h(request, tmp_path_factory):
    harness = make_harness(tmp_path_factory.mktemp("flows"), lang=request.param)
    yield harness
    harness.close()


def save(h, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    h.frame()
    pygame.image.save(h.ui.surface, str(OUT / f"{h.ui.lang}-{name}.png"))


def test_every_service_of_the_home_has_a_flow():
    flow_for("pension_auth")  # fills the registry
    assert {s.id for s in SERVICES} <= set(FLOWS)


@pytest.mark.parametrize("service", [s.id for s in SERVICES])
def test_the_first_step_of_every_flow_shows_where_the_citizen_is(h, service):
    h.ui.go_home("test")
    h.ui.sessions.begin(h.clock.monotonic())
    flow_cls = flow_for(service)
    assert flow_cls is not None
    host = start_flow(h.ui, flow_cls)
    save(h, f"{service}-first")
    step = host.runner.current
    assert isinstance(step, st.Step | st.Outcome), step
    if isinstance(step, st.Ask):
        n, of = h.ui.screen.flow_indicator
        assert n == 1 and of == len(flow_cls.STAGES) >= 2  # "第 1 步，共 N 步"
        assert h.ui.t("flow.step", n=n, of=of) in "".join(h.ui.text.rendered)
        assert "back" not in [b.name for b in h.ui.bar_buttons]  # nothing to go back to yet
    h.ui.go_home("test")


@pytest.mark.parametrize("kind", list(OUTCOMES))
def test_each_kind_of_outcome_is_said_truthfully(h, kind):
    h.ui.go_home("test")
    h.ui.sessions.begin(h.clock.monotonic())
    host = start_flow(h.ui, flow_for("balances"))
    host.flow.identity = Identity("110105195803120029", "王秀英", Assurance("face_match", verification_id="FV-1"))
    host.runner.current = OUTCOMES[kind]
    host._render(host.runner)
    save(h, f"outcome-{kind}")
    screen = h.ui.screen
    out = OUTCOMES[kind]
    assert screen.heading == out.title
    bar = [b.name for b in h.ui.bar_buttons]
    if out.result is st.Result.FAILED:
        assert screen.name == "message" and screen.kind == "error"
        assert ("retry" in [b.name for b in screen.buttons]) == out.retry
    else:
        assert screen.kind == {"done": "ok", "pending": "pending", "info": "info"}[out.result.value]
        assert screen.reference == out.reference
        assert "another" in bar  # the identified citizen may go on to another service
    title_bar = h.ui.t(screen.title_key)
    # the title bar says what happened: never "done" for something only accepted
    # (information is no "提示": the bar names the service the citizen is in)
    assert title_bar == h.ui.t({"done": "msg.bar.ok", "pending": "msg.bar.pending", "failed": "msg.bar.error",
                               "info": "service.balances.title"}[out.result.value])
    assert title_bar != h.ui.t("msg.bar.info")
    h.ui.go_home("test")
