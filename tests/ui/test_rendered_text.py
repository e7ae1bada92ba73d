"""Rendered text is complete and readable: every screen, in both languages, at every supported
size, with care mode off and on, draws no unformatted `{placeholder}` and no message id, no text
below the size floor of its mode (docs/ux-rules.md), no line that starts with closing punctuation
and no last line of one character, and no text outside its box, the screen, or over other text.

What is checked is what the text renderer actually drew (TextRenderer.rendered, and the TextLog
of each line's size, pixels and box), not what the catalogs hold, so a message looked up without
its fields (a button's sublabel, say) is caught.
Screens are reached from the fixture states of test_flow_screens and test_screens_render, plus
the face, name, card-swap and maintenance screens those two do not draw.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Callable

import pygame
import pytest
from PIL import Image

from kiosk import provisioning
from kiosk.domain.text_layout import NO_LINE_END, NO_LINE_START
from kiosk.i18n import LANGUAGES, catalog
from kiosk.screens import card_screens, face_screens, maintenance, name_entry
from kiosk.screens.text import DrawnText, TextLog
from kiosk.screens.theme import Theme
from kiosk.services.face_check import FacePictures
from kiosk.services.maintenance import hash_pin
from tests.conftest import ARTIFACTS
from tests.ui import test_flow_screens, test_screens_render
from tests.ui.harness import make_harness
from tests.ui.test_liveness_screen import liveness_screen, subject_frame

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


def _slack(size: int) -> int:
    """Pixels a line's letters may pass its box by: accents and descenders reach a little past
    the line pitch (about 0.06 of the size), which is not text cut off."""
    return max(2, round(size * 0.08))


_MARKS = "".join(NO_LINE_START | NO_LINE_END) + " "


def layout_problems(log: TextLog, theme: Theme, technician: bool = False,
                    measure: Callable[[str, int, bool], int] | None = None) -> list[str]:
    """What one frame drew that an elderly citizen could not read whole: text below the floor
    of its mode, a line that starts with closing punctuation, a last line of one character, a
    word cut in two that a line could hold (measure: its width in px), a line outside its box or
    the screen, a line over another or over a button it is not part of, and text drawn around
    TextRenderer.blit, whose place cannot be judged."""
    floor = theme.technician_floor if technician else theme.text_floor
    screen = pygame.Rect(0, 0, theme.width, theme.height)
    bad = []
    placed = {(r.text, r.size, r.bold) for r in log.runs}
    bad += [f"{text!r}: drawn without TextRenderer.blit" for text, size, bold in log.rendered - placed]
    for r in log.runs:
        what = f"{r.text!r} ({r.role or 'text'}, {r.size} px)"
        slack = _slack(r.size)
        if r.size < floor - 0.5:  # sizes are whole pixels: 40.5 is met by 40
            bad.append(f"{what}: below the {floor:.1f} px floor")
        if not screen.contains(r.ink):
            bad.append(f"{what}: outside the screen at {r.ink}")
        if r.box is not None:
            box = pygame.Rect(r.box.x, r.box.y, r.box.width, r.box.height if r.box.height > 0 else theme.height)
            if not box.inflate(2 * slack, 2 * slack).contains(r.ink):
                bad.append(f"{what}: outside its box {r.box} at {r.ink}")
        if r.text is not r.block[0] and r.text[:1] in NO_LINE_START:
            bad.append(f"{what}: a line starts with closing punctuation in {r.block}")
        if len(r.block) > 1 and r.text is r.block[-1] and len(r.text.strip(_MARKS)) <= 1:
            bad.append(f"{what}: the last line of {r.block} is one character")
        i = r.block.index(r.text)
        if i in log.cuts.get(r.block, ()) and r.box is not None and measure is not None:
            word = re.search(r"\S*$", r.text).group() + re.match(r"\S*", r.block[i + 1]).group()
            if measure(word, min(r.size, math.ceil(floor - 0.5)), r.bold) <= r.box.width:
                bad.append(f"{what}: {word!r} cut in two, though a line holds it whole")
        core = r.ink.inflate(-2 * slack, -2 * slack)
        for o in log.runs:
            if o is not r and o.layer == r.layer and o.block is not r.block and core.colliderect(o.ink) \
                    and id(r) < id(o):
                bad.append(f"{what}: overlaps {o.text!r} at {r.ink} / {o.ink}")
        for rect, layer in log.widgets:
            if layer == r.layer and core.colliderect(rect) and not (r.box is not None and rect.contains(r.box)):
                bad.append(f"{what}: over a button at {rect} it is not part of")
    return bad


RULES = {"below the": "floor", "outside the screen": "screen", "outside its box": "box",
         "closing punctuation": "kinsoku", "one character": "orphan", "cut in two": "cut", "overlaps": "overlap",
         "over a button": "button", "drawn without": "unplaced"}

# Faults the check still finds, by screen and rule: none. An entry here would exempt a screen from
# one rule while it is reworked (a fault to fix, never a rule relaxed); a placeholder or a message
# id is never listed.
KNOWN: dict[tuple[str, str], str] = {}


def _unknown(name: str, found: list[str]) -> list[str]:
    return [p for p in found if (name, next((rule for key, rule in RULES.items() if key in p), "")) not in KNOWN]


def _run(text: str, ink: tuple[int, int, int, int], size: int = 41, box=None, block=None, layer=0) -> DrawnText:
    return DrawnText(text, size, False, pygame.Rect(ink), "body", box and pygame.Rect(box), block or (text,), layer)


def test_the_layout_check_finds_what_it_is_for():
    """GIVEN one frame's lines WHEN checked at 1920x1080 THEN each fault is found: a line below
    the 40.5 px floor (57 px in care mode), a line that starts with "，", a one-character last
    line, a line out of its box, two lines over each other, a line over a button, text drawn
    around the logging blit; a technician's page has its own floor; a clean frame passes."""
    th, care = Theme(1920, 1080), Theme(1920, 1080, care_mode=True)
    ok = TextLog(runs=[_run("请插入社保卡", (100, 100, 246, 41))])
    assert not layout_problems(ok, th)
    assert layout_problems(TextLog(runs=[_run("请插入社保卡", (100, 100, 246, 41), size=36)]), th)
    assert layout_problems(ok, care) and not layout_problems(ok, th, technician=True)
    assert layout_problems(TextLog(runs=[_run("请插入社保卡", (100, 100, 246, 41), size=24)]), th, technician=True)
    block = ("请插入社保", "卡，谢谢")
    lines = [_run(block[0], (100, 100, 205, 41), block=block), _run(block[1], (100, 151, 164, 41), block=block)]
    assert not layout_problems(TextLog(runs=lines), th)
    block = ("请插入社保卡", "，谢谢")
    kinsoku = [_run(block[0], (100, 100, 246, 41), block=block), _run(block[1], (100, 151, 123, 41), block=block)]
    assert any("closing punctuation" in p for p in layout_problems(TextLog(runs=kinsoku), th))
    block = ("请插入社保", "卡")
    orphan = [_run(block[0], (100, 100, 205, 41), block=block), _run(block[1], (100, 151, 41, 41), block=block)]
    assert any("one character" in p for p in layout_problems(TextLog(runs=orphan), th))
    block = ("Press Do", "wn")
    cut = [_run(block[0], (100, 100, 160, 41), box=(90, 90, 400, 120), block=block),
           _run(block[1], (100, 151, 50, 41), box=(90, 90, 400, 120), block=block)]
    found = layout_problems(TextLog(runs=cut, cuts={block: [0]}), th, measure=lambda t, s, b: 20 * len(t))
    assert any("'Down' cut in two" in p for p in found)
    assert not layout_problems(TextLog(runs=cut, cuts={block: [0]}), th, measure=lambda t, s, b: 120 * len(t))
    assert not layout_problems(TextLog(runs=cut, cuts={block: []}), th, measure=lambda t, s, b: 20 * len(t))
    cut = TextLog(runs=[_run("请插入社保卡", (100, 100, 246, 41), box=(100, 90, 200, 60))])
    assert any("outside its box" in p for p in layout_problems(cut, th))
    assert any("outside the screen" in p for p in layout_problems(TextLog(runs=[_run("卡", (1900, 10, 41, 41))]), th))
    two = TextLog(runs=[_run("请插入社保卡", (100, 100, 246, 41)), _run("谢谢", (300, 110, 82, 41))])
    assert any("overlaps" in p for p in layout_problems(two, th))
    assert not layout_problems(TextLog(runs=[two.runs[0], _run("谢谢", (300, 110, 82, 41), layer=1)]), th)
    over = TextLog(runs=[_run("请插入社保卡", (100, 100, 246, 41))], widgets=[(pygame.Rect(300, 80, 300, 100), 0)])
    assert any("over a button" in p for p in layout_problems(over, th))
    inside = TextLog(runs=[_run("确定", (350, 110, 82, 41), box=(303, 83, 294, 94))], widgets=over.widgets)
    assert not layout_problems(inside, th)
    assert layout_problems(TextLog(runs=ok.runs, rendered={("别处画的", 41, False)}), th)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_size_the_theme_gives_meets_the_floor_of_its_mode(size):
    """GIVEN the theme at a supported size WHEN asked for any role's size THEN it is at least 30 px
    per 800 px of short side (1.4 times that in care mode; the technician's 20 px on technician
    pages), and care mode is 1.4 times the standard size of the same role."""
    roles = ("small", "body", "button", "tile", "title", "huge", "key")
    plain, care, tech = Theme(*size), Theme(*size, care_mode=True), Theme(*size, technician=True)
    assert plain.text_floor == pytest.approx(30 * min(size) / 800)
    assert care.text_floor == pytest.approx(1.4 * plain.text_floor)
    for role in roles:
        assert plain.font_px(role) >= plain.text_floor - 0.5, role
        assert care.font_px(role) >= care.text_floor - 0.5, role
        assert care.font_px(role) >= 1.4 * plain.font_px(role) - 1, role
        assert tech.font_px(role) >= tech.technician_floor - 0.5, role


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
        # The face check as its events leave it: the mouth cue; a later attempt after one opening;
        # the last attempt in too little light.
        "liveness-cue": lambda: liveness_screen(ui, None, subject_frame(), cue=True, guidance="ok"),
        "liveness-retry": lambda: liveness_screen(ui, None, subject_frame(), attempt=2, guidance="ok", openings=1),
        "liveness-dark": lambda: liveness_screen(ui, None, subject_frame(), attempt=3, guidance="too_dark"),
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
        measure = lambda text, size, bold: h.ui.text.font(size, bold).size(text)[0]  # noqa: E731
        assert len(screens) >= 45, [n for n, _ in screens]
        for name, show in screens:
            h.kiosk.health.overrides.clear()
            h.ui.go_home()
            h.ui.sessions.begin(h.clock.monotonic())
            h.ui._layout()
            h.ui.text.rendered.clear()
            h.ui.text.log = log = TextLog()
            show()
            h.frame()
            if name.startswith("maintenance-"):
                _settle(h)  # the page's figures come from a worker
            assert h.ui.screen.name != "failsafe" or name == "failsafe", name
            assert h.ui.sessions.care_mode == care or name.startswith(("home-care", "id-entry-care")), name
            _save(h, OUT / f"{lang}-{size[0]}x{size[1]}-{'care' if care else 'plain'}-{name}.png")
            drawn = {t for t in h.ui.text.rendered if t.strip()}
            assert drawn, f"{name}: nothing drawn"
            bad = problems(drawn) + _unknown(name, layout_problems(log, h.ui.theme, h.ui.screen.technician, measure))
            if bad:
                found[name] = sorted(bad)
        if h.ui.translators[lang].missing:
            found["(catalog)"] = sorted(f"missing message id {k}" for k in h.ui.translators[lang].missing)
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


def test_a_text_too_long_for_its_box_wraps_at_the_floor_before_it_gets_smaller():
    """GIVEN a two-line box that holds three lines of text at the least size WHEN fitted with
    room in height for three THEN it is three lines at the floor, not two lines below it; and
    with no room THEN it goes below the floor (what the screen check then reports)."""
    from kiosk.screens.text import TextRenderer

    pygame.font.init()
    renderer = TextRenderer()
    renderer.floor = 40
    text = "本机暂时连不上社保中心，没能核对卡片状态。新密码已生效。"
    width = renderer.font(40).size(text)[0] // 3 + 40
    size, lines = renderer.fit(text, 44, width, 2, height=3 * 50)
    assert size == 40 and len(lines) == 3
    size, lines = renderer.fit(text, 44, width, 2, height=2 * 50)
    assert size < 40 and len(lines) <= 2


def test_a_word_is_cut_only_when_no_line_holds_it():
    """GIVEN a button's word that fits its line only a little smaller WHEN fitted THEN it is
    smaller and whole ("Down", not "Do" / "wn")."""
    from kiosk.screens.text import TextRenderer, cut_words

    pygame.font.init()
    renderer = TextRenderer()
    width = renderer.font(40, True).size("Down")[0] - 4
    size, lines = renderer.fit("Down", 40, width, 2, bold=True)
    assert lines == ["Down"] and size < 40
    assert cut_words("Press Down", ["Press Do", "wn"]) == [0]
    assert cut_words("Paused now Please go", ["Paused now", "Please go"]) == []
