"""The liveness screen as the review asked: one countdown (the footer's inactivity countdown is not
drawn while the check runs), the chances left in other words than the mouth's count, the "open
your mouth" banner clear of the face oval at every screen size and text mode, and too little light
sends the citizen to the staff instead of asking them to move. Screenshots in
out/test-artifacts/liveness/."""

from __future__ import annotations

import functools

import pygame
import pytest

from kiosk.hw.camera_synthetic import SyntheticCameraAdapter
from kiosk.liveness.events import Guidance
from kiosk.screens.liveness import LivenessScreen
from kiosk.screens.text import TextLog
from kiosk.services.face_check import FaceCheck, LivenessSettings
from simulators.camera import SyntheticCamera
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "liveness"
SIZES = [(1920, 1080), (1080, 1920), (1280, 800)]


@functools.cache
def subject_frame():
    """A real picture of the synthetic subject (one, shared: tests/ui/test_rendered_text draws
    the screen over it too)."""
    with SyntheticCameraAdapter(SyntheticCamera(realtime=False, seed=3)) as cam:
        return next(iter(cam.frames()))


@pytest.fixture(scope="module")
def camera():
    cam = SyntheticCameraAdapter(SyntheticCamera(realtime=False, seed=3))
    yield cam
    cam.close()


@pytest.fixture(scope="module")
def frame():
    return subject_frame()


def liveness_screen(ui, camera, frame, attempt: int = 1, cue: bool = False, guidance: str = "",
                    openings: int = 0) -> LivenessScreen:
    """The screen over a FaceCheck that has seen one frame (the worker is not started: this is
    about what is drawn; tests/ui/test_memory.py runs a whole check), in the state its events
    would leave it in."""
    check = FaceCheck(camera, LivenessSettings.from_config(ui.services.cfg))
    check._frame = frame  # what the worker sets when a frame arrives
    screen = LivenessScreen(ui, check, attempt=attempt)
    screen.cue_active, screen.guidance, screen.openings = cue, guidance, openings
    return screen


def liveness_on(h, camera, frame, attempt: int = 1) -> LivenessScreen:
    h.ui.sessions.begin(h.clock.monotonic())
    screen = liveness_screen(h.ui, camera, frame, attempt)
    h.ui.show(screen)
    h.frame()
    return screen


def drawn_keys(h) -> list[tuple[str, str]]:
    """(message id, text) of everything drawn by message id in one frame."""
    seen: list[tuple[str, str]] = []
    original = h.ui.draw_text

    def spy(surf, key, role, color, rect, *args, **fields):
        seen.append((key, h.ui.t(key, **fields)))
        return original(surf, key, role, color, rect, *args, **fields)

    h.ui.draw_text = spy
    try:
        h.frame()
    finally:
        del h.ui.draw_text
    return seen


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_one_countdown_distinct_chances_and_dark_asks_for_staff(tmp_path, camera, frame, lang):
    h = make_harness(tmp_path, size=(1920, 1080), lang=lang)
    try:
        # A screen of the same session without a countdown of its own keeps the footer's.
        from kiosk.screens.common import WaitScreen

        h.ui.sessions.begin(h.clock.monotonic())
        h.ui.show(WaitScreen(h.ui, "wait.bar", "query.waiting", 30, lambda: None))
        assert "session.countdown" in [k for k, _ in drawn_keys(h)]

        liveness_on(h, camera, frame, attempt=2)
        keys = dict(drawn_keys(h))
        assert "liveness.countdown" in keys
        assert "session.countdown" not in keys and "session.countdown_short" not in keys

        # The chances left, not "第 2 次，共 3 次" beside "张嘴 … 3" and "共 3 次".
        mouth = h.ui.t("liveness.progress", done=1, total=3)
        chances = keys["liveness.chances_left"]
        assert "1" in chances  # attempt 2 of 3: one more after this one
        if lang == "zh_CN":
            assert "机会" in chances and "共" not in chances and "机会" not in mouth
        else:
            assert "Tries left" in chances and " of " not in chances and "Tries" not in mouth
        last = liveness_on(h, camera, frame, attempt=3)
        assert dict(drawn_keys(h))["liveness.chances_last"] == h.ui.t("liveness.chances_last")

        # Too dark: the guidance event as the check sends it; the words ask for the staff.
        last.check._events.put(Guidance(t=0.0, key="too_dark"))
        last.update(h.clock.monotonic())
        assert last.instruction == "liveness.guidance.too_dark"
        shown = h.ui.t(last.instruction)
        failed = h.ui.t("liveness.fail.too_dark.body", left=1)
        if lang == "zh_CN":
            assert "工作人员" in shown and "站到" not in shown
            assert "工作人员" in failed and "站到" not in failed
        else:
            assert "staff" in shown and "move" not in shown.lower()
            assert "staff" in failed and "move" not in failed.lower()
        last.cue_active = True
        OUT.mkdir(parents=True, exist_ok=True)
        h.frame()
        pygame.image.save(h.ui.surface, str(OUT / f"{lang}-dark-cue.png"))
    finally:
        h.close()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_cue_banner_never_covers_the_face_oval(tmp_path, camera, frame, size):
    h = make_harness(tmp_path, size=size)
    try:
        screen = liveness_on(h, camera, frame)
        for care in (False, True):
            if h.ui.sessions.care_mode != care:
                h.ui.toggle_care_mode()
            screen.cue_active = True
            assert screen.banner.width > 0 and screen.oval.height > screen.preview.height // 2
            assert not screen.banner.colliderect(screen.oval), (size, care, screen.banner, screen.oval)
            assert screen.preview.contains(screen.oval) and screen.preview.contains(screen.banner)
            # The cue is on screen once, in the banner; nothing of the panel reaches the Cancel button.
            h.ui.text.log = log = TextLog()
            h.frame()
            cue = [r for r in log.runs if h.ui.t("liveness.cue") in r.text]
            assert len(cue) == 1 and screen.banner.contains(cue[0].ink), (size, care, [r.text for r in cue])
            panel = [r for r in log.runs if screen.panel.contains(r.ink) and r.box is not None
                     and not screen.cancel_button.rect.contains(r.box)]
            assert panel and all(r.ink.bottom <= screen.cancel_button.rect.top for r in panel), (size, care)
        h.frame()  # the larger text, where room is scarcest, for review
        w, hh = size
        OUT.mkdir(parents=True, exist_ok=True)
        pygame.image.save(h.ui.surface, str(OUT / f"zh_CN-cue-{w}x{hh}-care.png"))
    finally:
        h.close()
