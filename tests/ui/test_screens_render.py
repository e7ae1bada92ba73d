"""Every screen in Chinese and English at each supported size: screenshots saved for review,
no untranslated message ids, no missing glyphs, nothing drawn outside the screen."""

from __future__ import annotations

import re

import pygame
import pytest

from kiosk.hw.health import DeviceHealth
from kiosk.i18n import KEY_PATTERN, LANGUAGES, catalog
from kiosk.screens import flows
from kiosk.screens.text import TextRenderer
from kiosk.screens.theme import COLORS, CONTRAST_PAIRS, Theme, contrast
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

SIZES = [(1920, 1080), (1080, 1920), (1280, 800)]
VALID_ID = "11010519491231002X"


def _screens(h):
    """(name, action) pairs that bring the UI to each screen from home."""
    ui = h.ui

    def id_wrong():
        h.open_id_entry()
        h.type(VALID_ID[:17] + "3")

    def id_valid():
        h.open_id_entry()
        h.type(VALID_ID)

    def pending():
        id_valid()
        h.tap_button("confirm")

    def prompt():
        h.open_id_entry()
        h.type("3201")
        h.clock.advance(h.cfg["session.inactivity_s"] + 3)

    def staff():  # the footer's button; on the care-mode home, its tile of its own
        h.tap_button("tile-staff" if h.ui.screen.offers_staff else "staff")

    def care_home():
        h.tap_button("care")

    def care_id():
        h.tap_button("care")
        id_wrong()

    def pin():
        ui.show(flows.PinEntryScreen(ui, lambda p: None, attempts_left=2))
        h.type("123")

    def failsafe():
        h.open_id_entry()
        h.ui.screen.update = lambda now: 1 / 0

    def degraded():
        h.set_health("camera", DeviceHealth.offline("health.camera.offline"))
        h.set_health("bureau", DeviceHealth.offline("health.bureau.unreachable"))

    def oos():
        for name in ("reader", "camera", "bureau"):
            h.set_health(name, DeviceHealth.offline(f"health.{name}.offline"))

    return [("home", lambda: None), ("home-care", care_home), ("home-degraded", degraded),
            ("out-of-service", oos), ("id-entry-wrong", id_wrong), ("id-entry-valid", id_valid),
            ("id-entry-care", care_id), ("pin-entry", pin), ("service-pending", pending),
            ("inactivity-prompt", prompt), ("call-staff", staff), ("failsafe", failsafe)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_screen_renders_translated_and_is_saved(tmp_path, size, lang):
    out = ARTIFACTS / "screens"
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n, _ in _screens(make_harness(tmp_path / "probe", size, lang))]
    for name in names:
        h = make_harness(tmp_path / name, size, lang)
        try:
            h.ui.sessions.default_language = lang
            dict(_screens(h))[name]()
            h.frame()
            h.frame()
            path = out / f"{lang}-{size[0]}x{size[1]}-{name}.png"
            h.ui.screenshot(str(path))
            tr = h.ui.translators[lang]
            assert not tr.missing, f"{name}: missing message ids {tr.missing}"
            drawn = {t for t in h.ui.text.rendered if t.strip()}
            assert drawn, f"{name}: nothing drawn"
            untranslated = sorted(t for t in drawn if KEY_PATTERN.match(t.strip()))
            assert not untranslated, f"{name}: shows message ids {untranslated}"
            if lang == "en":
                stray = sorted(t for t in drawn if re.search(r"[\u4e00-\u9fff]", t) and t != "中文")
                assert not stray, f"{name}: Chinese text on the English screen {stray}"
            _assert_buttons_inside(h, size, name)
        finally:
            h.close()


def _assert_buttons_inside(h, size, name):
    screen_rect = pygame.Rect(0, 0, *size)
    for b in h.ui.screen.buttons + h.ui.bar_buttons:
        assert screen_rect.contains(b.rect), f"{name}: {b.name or b.label} outside the screen {b.rect}"
        assert b.rect.height >= round(96 * min(size) / 1080) - 1, f"{name}: {b.name} too short"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_font_has_a_glyph_for_every_character_of_the_catalog(lang):
    pygame.font.init()
    text = TextRenderer()
    font = text.font(36)
    for key, message in catalog(lang).items():
        missing = [ch for ch, m in zip(message, font.metrics(message)) if m is None and not ch.isspace()]
        assert not missing, f"{key}: no glyph for {missing}"


def test_catalogs_have_the_same_keys_and_placeholders():
    zh, en = catalog("zh_CN"), catalog("en")
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_theme_meets_contrast_and_size_rules():
    for fg, bg in CONTRAST_PAIRS:
        assert contrast(COLORS[fg], COLORS[bg]) >= 4.5, (fg, bg, contrast(COLORS[fg], COLORS[bg]))
    for size in ((1920, 1080), (1080, 1920)):
        th = Theme(*size)
        assert th.font_px("small") >= 32 and th.font_px("body") >= 32
        assert th.button_h >= 96


def test_every_device_health_reason_has_a_message():
    from kiosk.hw.registry import ADAPTERS

    zh = catalog("zh_CN")
    for kind in [*ADAPTERS, "gpio", "bureau", "outbox"]:
        for reason in ("not_installed", "unsupported", "driver_missing", "failed", "offline"):
            assert f"health.{kind}.{reason}" in zh
