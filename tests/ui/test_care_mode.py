"""长辈模式 (care mode): a home of a few large tiles with pictograms for the most used services and
call staff, a group's services one question per screen, larger text, twice the time before the
kiosk asks whether anyone is still there, and each screen's question read aloud. Screenshots of
the care home and a care-mode flow at every supported size, in both languages."""

from __future__ import annotations

import pygame
import pytest

from kiosk.screens.theme import CARE_TEXT, Theme
from kiosk.services.catalog import CARE_HOME
from kiosk.services.session import Phase
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "care"
SIZES = [(1920, 1080), (1080, 1920), (1280, 800)]


class Recorder:
    """Stands in for the voice: what would be said."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def say(self, key: str, lang: str, text: str | None = None, **fields: object) -> None:
        self.said.append((key, lang))

    def prepare(self, prompts: object) -> None:
        pass


def tiles(h) -> list:
    return [b for b in h.ui.screen.buttons if b.name.startswith("tile-")]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_care_home_has_a_few_large_tiles_with_pictograms(tmp_path, lang, size):
    h = make_harness(tmp_path, size=size, lang=lang)
    try:
        standard = len(tiles(h))
        h.tap_button("care")
        care = tiles(h)
        assert 4 <= len(care) <= 6 < standard
        assert [b.name for b in care] == [f"tile-{t.id}" for t in CARE_HOME] + ["tile-staff"]
        assert all(b.icon is not None for b in care)
        smallest = min(min(b.rect.width, b.rect.height) for b in care)
        assert smallest >= Theme(*size).px(300)  # each tile far larger than a finger
        OUT.mkdir(parents=True, exist_ok=True)
        h.frame()
        pygame.image.save(h.ui.surface, str(OUT / f"{lang}-{size[0]}x{size[1]}-care-home.png"))
        h.tap_button("tile-queries")  # a group: its services, one question
        assert h.ui.screen.name == "group"
        assert [b.name for b in tiles(h)] == ["tile-payment_records", "tile-pension_received", "tile-balances",
                                             "tile-application_progress", "tile-participation_certificate"]
        h.frame()
        pygame.image.save(h.ui.surface, str(OUT / f"{lang}-{size[0]}x{size[1]}-care-group.png"))
        h.ui.voice = Recorder()
        h.tap_button("tile-balances")  # the same flow as without care mode
        assert h.ui.screen.name == "identify" and h.ui.flow_host is not None
        assert h.ui.voice.said[-1] == ("identify.prompt", lang)  # the question, read aloud
        h.frame()
        pygame.image.save(h.ui.surface, str(OUT / f"{lang}-{size[0]}x{size[1]}-care-flow.png"))
    finally:
        h.close()


def test_call_staff_is_a_tile_of_the_care_home(tmp_path):
    h = make_harness(tmp_path)
    try:
        h.tap_button("care")
        h.tap_button("tile-staff")
        assert h.ui.toast is not None and h.ui.toast[0] == "staff.called"
    finally:
        h.close()


def test_care_mode_text_is_larger_and_the_kiosk_waits_twice_as_long(tmp_path):
    h = make_harness(tmp_path)
    try:
        plain = Theme(1920, 1080)
        care = Theme(1920, 1080, care_mode=True)
        assert care.font_px("body") >= round(CARE_TEXT * plain.font_px("body")) - 1
        idle = h.cfg["session.inactivity_s"]
        h.tap_button("care")
        h.tap_button("tile-pension_auth")
        assert h.ui.sessions.session is not None
        h.clock.advance(idle + 1)
        h.frame()
        assert h.ui.sessions.phase(h.clock.monotonic()) is Phase.ACTIVE  # without care mode: prompting
        h.clock.advance(idle)
        h.frame()
        assert h.ui.sessions.phase(h.clock.monotonic()) is Phase.PROMPTING
    finally:
        h.close()
