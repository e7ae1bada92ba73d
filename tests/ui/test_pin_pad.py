"""The card PIN pad as the review asked: a refused PIN said in words with the tries left, a way to
reset a forgotten PIN (the reset service when this kiosk can do it, else where to go), and the
digits in order unless the bureau chooses a shuffled pad (ui.pin_pad_scrambled). Screenshots in
out/test-artifacts/pin-pad/."""

from __future__ import annotations

import pygame
import pytest

from kiosk.card.errors import WrongPin
from kiosk.flows import Context
from kiosk.flows.identify import Identify
from kiosk.hw.health import DeviceHealth
from kiosk.screens.entry import PinEntryScreen
from kiosk.screens.flow_host import start_flow
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "pin-pad"


class PinOnly(Identify):
    """The card PIN step of card identification, alone (tests/e2e runs it after a real card)."""

    service_id = "change_pin"
    title = "service.change_pin.title"
    STAGES = ("pin", "result")

    def start(self):
        return self.ask_pin("card.pin.title", "card_pin", stage="pin")


def drawn(h) -> dict[str, str]:
    """Message id -> text of everything drawn by message id in one frame."""
    seen: dict[str, str] = {}
    original = h.ui.draw_text

    def spy(surf, key, role, color, rect, *args, **fields):
        seen[key] = h.ui.t(key, **fields)
        return original(surf, key, role, color, rect, *args, **fields)

    h.ui.draw_text = spy
    try:
        h.frame()
    finally:
        del h.ui.draw_text
    return seen


def save(h, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pygame.image.save(h.ui.surface, str(OUT / f"{h.ui.lang}-{name}.png"))


def test_a_wrong_pin_is_refused_in_words_with_the_tries_left():
    flow = PinOnly(Context(desk=None))
    flow.start()
    again = flow.step_pin_refused(WrongPin(retries_left=2))
    assert (again.problem, again.attempts_left, again.forgot) == ("card.pin.wrong", 2, True)
    last = flow.step_pin_refused(WrongPin(retries_left=1))
    assert last.problem == "card.pin.wrong_last"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_pin_screen_says_the_tries_and_offers_the_reset(tmp_path, lang):
    h = make_harness(tmp_path, lang=lang)
    try:
        h.ui.sessions.begin(h.clock.monotonic())
        host = start_flow(h.ui, PinOnly)
        host.runner.current = host.runner.flow.step_pin_refused(WrongPin(retries_left=2))
        host._render(host.runner)
        seen = drawn(h)
        said = seen["card.pin.wrong"]
        assert ("密码不对" in said and "还可以再试 2 次" in said) if lang == "zh_CN" else \
            ("not right" in said and "2 more times" in said)
        assert "pin_entry.attempts_left" not in seen  # one sentence, not a number apart
        save(h, "wrong-with-reset")

        # The way out of a forgotten PIN: the reset service, started on the spot.
        h.tap_button("forgot_pin")
        assert h.ui.flow_host is not host and h.ui.flow_host.flow.service_id == "reset_pin"
        assert host.runner.left  # the PIN flow was left, nothing of it runs on
        assert h.ui.screen.name != "pin_entry"

        # Without a camera the reset cannot be done here: the words say where to go instead.
        h.ui.go_home("test")
        h.set_health("camera", DeviceHealth.offline("health.camera.offline"))
        h.ui.sessions.begin(h.clock.monotonic())
        start_flow(h.ui, PinOnly)
        seen = drawn(h)
        assert "forgot_pin" not in [b.name for b in h.ui.screen.buttons]
        note = seen["pin_entry.forgot_note"]
        assert ("窗口" in note and "密码重置" in note) if lang == "zh_CN" else "service counter" in note
        save(h, "forgot-note")
    finally:
        h.close()


def test_a_new_pin_has_no_reset_button(tmp_path):
    h = make_harness(tmp_path)
    try:
        h.ui.sessions.begin(h.clock.monotonic())
        h.ui.show(PinEntryScreen(h.ui, lambda pin: None, message="pin.problem.straight_run"))
        assert "forgot_pin" not in [b.name for b in h.ui.screen.buttons]
        assert "pin_entry.forgot_note" not in drawn(h)
    finally:
        h.close()


@pytest.mark.parametrize("scrambled", [False, True])
def test_the_bureau_chooses_whether_the_pad_is_shuffled(tmp_path, scrambled):
    overrides = {"ui.pin_pad_scrambled": True} if scrambled else {}
    h = make_harness(tmp_path, **overrides)
    try:
        assert h.cfg["ui.pin_pad_scrambled"] is scrambled  # off unless chosen
        orders = []
        for _ in range(2):
            screen = PinEntryScreen(h.ui, lambda pin: None)
            h.ui.show(screen)
            h.frame()
            orders.append(screen.order)
            # The keys on screen read in that order, left to right and top to bottom.
            keys = sorted((b for b in screen.buttons if b.literal), key=lambda b: (b.rect.y, b.rect.x))
            assert [b.label for b in keys] == screen.order
        for order in orders:
            assert sorted(order) == list("0123456789")
        if scrambled:  # a fresh shuffle per screen: the same order twice is a 1 in 3.6 million chance
            assert orders[0] != list("1234567890") or orders[1] != list("1234567890")
            assert orders[0] != orders[1]
        else:
            assert orders == [list("1234567890")] * 2
    finally:
        h.close()
