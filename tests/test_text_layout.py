"""Line breaking (kiosk/domain/text_layout.py): one rule per test, and screens and receipts
breaking the same text the same way."""

from __future__ import annotations

import pytest

from kiosk.domain.text_layout import NO_LINE_END, NO_LINE_START, break_lines, fits_within


def cells(text: str) -> int:
    """Printer columns: a Chinese character is two, an ASCII character one."""
    return sum(1 if ch.isascii() else 2 for ch in text)


def lines_of(text: str, width: int, measure=len) -> list[str]:
    return break_lines(text, fits_within(width, measure))


def test_breaks_between_any_two_chinese_characters():
    """GIVEN a Chinese phrase with no spaces WHEN four characters fit a line THEN it breaks after
    every fourth character (no word boundaries needed)."""
    assert lines_of("养老保险待遇资格认证", 8, cells) == ["养老保险", "待遇资格", "认证"]


@pytest.mark.parametrize("word", ["12333", "1,234.56", "KIOSK0007-20250314-000042-H",
                                  "１２３４５", "ＡＢＣ"])
def test_latin_words_and_digit_runs_stay_whole_at_every_width(word):
    """GIVEN a number or reference between Chinese words WHEN wrapped at every width it fits in
    THEN it is always whole on one line (fullwidth digits and letters too)."""
    text = f"请拨打{word}咨询，或到窗口{word}办理"
    for width in range(cells(word), cells(text) + 1):
        lines = lines_of(text, width, cells)
        assert all(cells(line) <= width for line in lines), (width, lines)
        assert sum(line.count(word) for line in lines) == 2, (width, lines)


def test_latin_text_breaks_at_spaces_and_drops_them():
    assert lines_of("Keep  this   receipt safe", 12) == ["Keep  this", "receipt safe"]


def test_a_word_wider_than_the_line_is_broken_between_its_characters():
    """GIVEN a reference longer than a line WHEN wrapped THEN every line fits and nothing is lost."""
    lines = lines_of("参考号 ABCDEFGHIJKLMNOPQ", 6, cells)
    assert all(cells(line) <= 6 for line in lines), lines
    assert "".join(lines) == "参考号ABCDEFGHIJKLMNOPQ"


@pytest.mark.parametrize("mark", sorted("。，、；：？！）」』．！？％)%,.;:?!…”"))
def test_no_line_starts_with_closing_punctuation(mark):
    """GIVEN a line that is full just before a closing mark WHEN wrapped THEN the mark stays with
    the character before it, which moves down with it."""
    assert mark in NO_LINE_START
    lines = lines_of(f"一二三四{mark}五六七", 4)
    assert lines == ["一二三", f"四{mark}五", "六七"]
    assert not any(line[0] in NO_LINE_START for line in lines)


@pytest.mark.parametrize("mark", sorted("（「『《“(￥"))
def test_no_line_ends_with_opening_punctuation(mark):
    """GIVEN an opening mark that would be the last character to fit WHEN wrapped THEN it moves
    down with the character it opens."""
    assert mark in NO_LINE_END
    lines = lines_of(f"一二三{mark}四五六七八", 4)
    assert lines == ["一二三", f"{mark}四五六", "七八"]


def test_closing_marks_in_a_row_all_stay_on_the_line_before():
    assert lines_of("一二三。」四五六", 4) == ["一二", "三。」四", "五六"]


def test_a_last_line_of_one_character_takes_one_from_the_line_above():
    """GIVEN a text one character longer than two full lines WHEN wrapped THEN the last line has
    two characters, not one."""
    assert lines_of("一二三四五六七八九", 4) == ["一二三四", "五六七", "八九"]
    assert lines_of("养老资格认证已通过。", 8, cells) == ["养老资格", "认证已", "通过。"]


def test_a_last_line_of_one_short_latin_word_takes_the_word_above():
    """GIVEN a sentence whose last word alone would wrap WHEN wrapped THEN the word before it goes
    down too."""
    assert lines_of("Take a photo of this code", 20) == ["Take a photo of", "this code"]


def test_no_orphan_is_pulled_when_the_line_above_would_be_left_with_one_piece():
    """The rule moves an orphan, it does not make one: with two characters a line there is no
    better break for three characters, nor for two words and a short one."""
    assert lines_of("一二三", 2) == ["一二", "三"]
    assert lines_of("Activating your card…", 16) == ["Activating your", "card…"]


def test_the_orphan_rule_never_makes_the_last_line_overflow():
    """GIVEN a last character as wide as a line WHEN wrapped THEN it stays alone: with the
    character above it would not fit."""
    assert lines_of("一二三四五六七八宽", 4, lambda s: len(s) + 3 * s.count("宽")) \
        == ["一二三四", "五六七八", "宽"]


def test_explicit_newlines_are_kept_and_an_empty_paragraph_is_an_empty_line():
    assert lines_of("第一行\n\n第二行很长很长", 4) == ["第一行", "", "第二行很", "长很长"]
    assert lines_of("Line one\r\nLine two", 40) == ["Line one", "Line two"]
    assert lines_of("", 10) == [""]


@pytest.mark.parametrize("text", [
    "请携带身份证到社保经办窗口办理，或拨打12333咨询。",
    "Your application is queued; keep the reference number to ask about it.",
    "养老金（2024年6月）：￥3,500.00元，已发放至“中国工商银行”账户。",
    "认证结果：通过\n有效期至2026-03-13，请于到期前再次认证！",
])
def test_every_line_fits_and_no_text_is_lost_at_any_width(text):
    for width in range(12, cells(text) + 2):
        lines = lines_of(text, width, cells)
        assert all(cells(line) <= width for line in lines), (width, lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")
        assert not any(line and line[0] in NO_LINE_START for line in lines), (width, lines)
        assert not any(line and line[-1] in NO_LINE_END for line in lines), (width, lines)


class _ScreenFont:
    """A pygame font stand-in whose width is 12 px a printer column."""

    def size(self, text: str) -> tuple[int, int]:
        return cells(text) * 12, 24


class _PaperFont:
    """A Pillow font stand-in measuring the same."""

    def getlength(self, text: str) -> float:
        return cells(text) * 12.0


SAMPLES = [
    "请携带身份证到社保经办窗口办理，或拨打12333咨询。",
    "养老金（2024年6月）：3,500.00元，已发放。",
    "No receipt? Take a photo of this QR code",
    "认证结果：通过\n\n有效期至2026-03-13",
    "KIOSK0007-20250314-000042-H",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_screens_and_receipts_break_the_same_text_the_same_way(text, monkeypatch):
    """GIVEN one measure (12 px a column) WHEN the touch screen, the text-mode receipt and the
    raster receipt wrap the same text THEN they make the same lines."""
    from kiosk.screens.text import TextRenderer
    from kiosk.services import printing

    renderer = TextRenderer()
    monkeypatch.setattr(renderer, "font", lambda size, bold=False: _ScreenFont())
    for columns in range(10, 40):
        screen = renderer.wrap(text, 24, columns * 12)
        paper = printing.wrap(text, columns)
        raster = printing._wrap_px(text, _PaperFont(), columns * 12)  # type: ignore[arg-type]
        assert screen == paper == raster, (columns, screen, paper, raster)


def test_a_break_without_a_space_needs_a_chinese_character_beside_it():
    """GIVEN a curly apostrophe in an English word, or a Chinese dash WHEN wrapped narrowly THEN
    the word and the dash stay whole (a break needs a space or a wide character beside it)."""
    assert lines_of("Don’t forget", 7) == ["Don’t", "forget"]
    assert lines_of("一二三——四五", 4) == ["一二三", "——四五"]


def test_a_long_token_broken_between_characters_never_starts_a_line_with_a_closing_mark():
    """GIVEN an address too long for any line WHEN it comes apart between its characters THEN a
    dot or colon stays with the character before it ("…example" | ".invalid" was the fault)."""
    for width in range(6, 30):
        lines = lines_of("https://bureau.example.invalid:8443/v1", width)
        assert "".join(lines) == "https://bureau.example.invalid:8443/v1"
        assert not any(line[0] in NO_LINE_START for line in lines[1:]), (width, lines)
