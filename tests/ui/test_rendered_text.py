"""Rendered text is complete: every screen, in both languages, at every supported size, with care
mode off and on, draws no unformatted `{placeholder}` and no message id.

What is checked is what the text renderer actually drew (TextRenderer.rendered), not what the
catalogs hold, so a message looked up without its fields (a button's sublabel, say) is caught.
Screens are reached from the fixture states of test_flow_screens and test_screens_render, plus
the face, name, card-swap and maintenance screens those two do not draw.
"""

from __future__ import annotations

import io
import re
import time

import pygame
import pytest
from PIL import Image

from kiosk import provisioning
from kiosk.i18n import LANGUAGES, catalog
from kiosk.screens import card_screens, face_screens, maintenance, name_entry
from kiosk.services.face_check import FacePictures
from kiosk.services.maintenance import hash_pin
from tests.conftest import ARTIFACTS
from tests.ui import test_flow_screens, test_screens_render
from tests.ui.harness import make_harness

OUT = ARTIFACTS / "rendered-text"
SIZES = [(1920, 1080), (1080, 1920), (1280, 800)]
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
DOTTED_ID = re.compile(r"(?<![\w.])[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+(?![\w.])")
ID_SHAPE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")  # KEY_PATTERN minus versions (v1.2.3)
MESSAGE_IDS = frozenset(k for lang in LANGUAGES for k in catalog(lang))


def problems(drawn: set[str]) -> list[str]:
    """The strings that show a placeholder or a message id instead of words."""
    bad = []
    for text in drawn:
        if PLACEHOLDER.search(text):
            bad.append(f"placeholder in {text!r}")
        elif ID_SHAPE.match(text.strip()) or any(m in MESSAGE_IDS for m in DOTTED_ID.findall(text)):
            bad.append(f"message id in {text!r}")
    return bad


def test_the_check_itself_finds_what_it_is_for():
    """GIVEN drawn strings with a leftover field, a message id, or none WHEN checked THEN only the
    first two are reported (a setting's name such as ui.language on the technician page is not
    a message id and is allowed)."""
    assert problems({"北京市朝阳区 {address}"}) and problems({"apply.outlet_hint"})
    assert problems({"Press nav.home to go back"})
    assert not problems({"Collect at: 中国银行 (北京市)", "ui.language = zh_CN", "86,420.15", "v1.2.3"})


def _jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (240, 320), (shade, 120, 90)).save(buf, "JPEG")
    return buf.getvalue()


def _more_screens(h):
    """Screens no other render test draws, built from fixture values as their flows build them."""
    ui = h.ui
    pictures = FacePictures([_jpeg(60 * i) for i in range(4)])
    facts = [face_screens.Fact("certify.fact.service", "service.pension_auth.title", True),
             face_screens.Fact("certify.fact.name", "张*明"),
             face_screens.Fact("certify.fact.id", "1101**********002X"),
             face_screens.Fact("certify.fact.residence", "residence.local", True),
             face_screens.Fact("certify.fact.face", "certify.face_match", True)]
    return {
        "consent": lambda: face_screens.ConsentScreen(ui, "consent.body_self", lambda: None, lambda: None),
        "pictures": lambda: face_screens.PicturesScreen(ui, pictures, lambda: None, lambda: None),
        "confirm": lambda: face_screens.ConfirmScreen(ui, "certify.pension_bar", facts, lambda: None, pictures),
        "name-entry": lambda: name_entry.NameEntryScreen(ui, lambda n: None),
        "swap-card": lambda: card_screens.WaitCardScreen(ui, "card.adopt.take_new", False),
        "tech-pin": lambda: maintenance.TechPinScreen(ui, "gesture"),
    }


def _every_screen(h):
    """(name, show) for every fixture screen; `show` brings the UI there from home."""
    ui = h.ui
    shown = []
    for name, make in {**test_flow_screens.screens(ui), **_more_screens(h)}.items():
        shown.append((name, lambda make=make: ui.show(make())))
    shown += list(test_screens_render._screens(h))
    from kiosk.services.diagnostics import PAGES

    for page in PAGES:
        shown.append((f"maintenance-{page}", lambda page=page: ui.show(maintenance.MaintenanceScreen(ui, "gesture",
                                                                                                     page=page))))
    return shown


@pytest.mark.parametrize("care", [False, True], ids=["plain", "care"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_placeholder_or_message_id_is_drawn(tmp_path, lang, size, care):
    OUT.mkdir(parents=True, exist_ok=True)
    provisioning.write(tmp_path / "data", "maintenance.pin_hash", hash_pin("246810"))
    h = make_harness(tmp_path, size, lang)
    found: dict[str, list[str]] = {}
    try:
        h.ui.sessions.default_language = lang
        h.ui.sessions.default_care_mode = care
        h.ui.services.devices.reader = test_flow_screens._Reader()
        screens = _every_screen(h)
        assert len(screens) >= 45, [n for n, _ in screens]
        for name, show in screens:
            h.kiosk.health.overrides.clear()
            h.ui.go_home()
            h.ui.sessions.begin(h.clock.monotonic())
            h.ui._layout()
            h.ui.text.rendered.clear()
            show()
            h.frame()
            if name.startswith("maintenance-"):
                _settle(h)  # the page's figures come from a worker
            assert h.ui.screen.name != "failsafe" or name == "failsafe", name
            assert h.ui.sessions.care_mode == care or name.startswith(("home-care", "id-entry-care")), name
            _save(h, OUT / f"{lang}-{size[0]}x{size[1]}-{'care' if care else 'plain'}-{name}.png")
            drawn = {t for t in h.ui.text.rendered if t.strip()}
            assert drawn, f"{name}: nothing drawn"
            bad = problems(drawn)
            if bad:
                found[name] = sorted(bad)
        assert not h.ui.translators[lang].missing, h.ui.translators[lang].missing
    finally:
        h.close()
    assert not found, "\n".join(f"{name}: {bad}" for name, bad in found.items())


def _save(h, path) -> None:
    """The screenshot for review, compressed lightly: pygame's PNG writer takes ~70 ms a screen."""
    surf = h.ui.surface
    Image.frombytes("RGB", surf.get_size(), pygame.image.tobytes(surf, "RGB")).save(path, compress_level=1)


def _settle(h, rounds: int = 100) -> None:
    """Let worker jobs a screen started (maintenance page reads) land, then draw once more."""
    for _ in range(rounds):
        if not h.ui.workers.pending():
            break
        time.sleep(0.01)
        h.frame()
    h.frame()


def test_every_setting_a_technician_may_change_has_a_label_in_both_languages():
    """The settings page draws `setting.<key>` for each technician key: a new key needs its words."""
    from kiosk.screens.settings import label_key, technician_keys

    keys = technician_keys()
    assert keys
    for lang in LANGUAGES:
        assert not [label_key(k) for k in keys if label_key(k) not in catalog(lang)], lang


@pytest.mark.parametrize("text", ["刷脸认证，每年一次", "养老、医保个人账户", "拍照并选择领卡网点",
                                  "No receipt? Take a photo of this QR code"])
def test_a_wrapped_text_never_ends_on_one_character_or_a_lone_short_word(text):
    """GIVEN a tile hint a little wider than its button WHEN wrapped THEN the last line holds more
    than one Chinese character (or short word), and no line is wider than the button."""
    from kiosk.screens.text import TextRenderer

    pygame.font.init()
    renderer = TextRenderer()
    font = renderer.font(32)
    for width in range(font.size(text)[0] * 5 // 10, font.size(text)[0], 7):
        lines = renderer.wrap(text, 32, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        assert all(font.size(line)[0] <= width for line in lines if len(line) > 1), (width, lines)
        last = lines[-1].strip()
        assert len(lines) == 1 or (len(last) > 1 if not last.isascii() else len(last) > 4), (width, lines)
