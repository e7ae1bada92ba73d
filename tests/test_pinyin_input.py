"""The name keyboard's candidates (kiosk/services/pinyin_input.py): name-frequency order from the
shipped table, surnames first for a name's first character, characters unfit for a name never on
the first page yet still reachable, a stable order, and the lazy index."""

from __future__ import annotations

import os
import time
import tomllib

import pytest

from kiosk.services import pinyin_input

# The name screen's candidate row (NameEntryScreen.per_page once laid out): 11 cells at 1920x1080,
# 10 at 1280x800, 5 at 1080x1920. What must be on the first page is within the narrowest row; what
# must not be, past the widest.
NARROW = 5
WIDE = 11
# 王秀英, the retiree the face-flow tests type (tests/e2e/test_face_flows.py WANG_PINYIN).
WANG_XIU_YING = [("wang", "王"), ("xiu", "秀"), ("ying", "英")]
# The characters the issue names as unfit; UNFIT may hold more.
NAMED_UNFIT = "亡死尸鬼丧棺坟葬病疯贱屎尿奴仇恨哭灾祸毒屁"


def chars(pinyin: str, first: bool = False) -> tuple[str, ...]:
    return pinyin_input.candidates(pinyin, first=first).chars


def rank(pinyin: str, ch: str, first: bool = False) -> int:
    """1-based place of `ch` among the candidates."""
    return chars(pinyin, first).index(ch) + 1


@pytest.fixture(scope="module")
def name_order() -> str:
    return pinyin_input._name_order()


@pytest.fixture(scope="module")
def drawable():
    """What the name screen can draw: it offers only characters its font (Noto Sans SC) has."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame.freetype

    from kiosk.screens.text import find_font

    pygame.freetype.init()
    font = pygame.freetype.Font(str(find_font()), 40)
    known: dict[str, bool] = {}

    def has(ch: str) -> bool:
        if ch not in known:
            metrics = font.get_metrics(ch)
            known[ch] = bool(metrics) and metrics[0] is not None
        return known[ch]

    return has


def test_common_name_characters_lead_their_syllable():
    assert rank("xiu", "秀") <= 2 and rank("xiu", "秀", first=True) <= 2  # was 7th, after 羞, 朽, 嗅
    assert rank("wang", "王", first=True) == 1
    assert rank("wang", "王") <= NARROW  # in a given name 旺 and 望 are more frequent
    for pinyin, ch in [("ying", "英"), ("lan", "兰"), ("gui", "桂"), ("hua", "华")]:
        assert rank(pinyin, ch) <= NARROW and rank(pinyin, ch, first=True) <= NARROW, (pinyin, ch)
    assert chars("hua")[0] == "华" and chars("gui")[0] == "桂" and chars("lan")[0] == "兰"
    xiu = chars("xiu")
    assert xiu.index("秀") < xiu.index("羞") and xiu.index("秀") < xiu.index("嗅")


def test_wang_xiu_ying_is_typed_from_first_pages():
    """What the e2e helper type_id_and_name pages through with cand-next: no paging at all now."""
    for n, (pinyin, ch) in enumerate(WANG_XIU_YING):
        assert ch in chars(pinyin, first=n == 0)[:NARROW], (pinyin, ch)


@pytest.fixture(scope="module")
def usual_reading() -> dict[str, str]:
    """character -> its first (usual) reading in pypinyin's dictionary, toneless."""
    readings = pinyin_input._readings()
    return {chr(int(code)): pinyin_input._toneless(r.split(",")[0]) for code, r in readings.items()}


@pytest.mark.parametrize("syllable", ["xiu", "wang", "ying", "pi", "zhao"])
def test_a_syllable_comes_in_name_table_order_then_commonness(syllable, name_order, usual_reading):
    exact = pinyin_input.index()[syllable]
    fit = [c for c in exact if c not in pinyin_input.UNFIT]
    named = [c for c in fit if c in name_order]
    usual = [c for c in named if usual_reading[c] == syllable]
    other = [c for c in named if usual_reading[c] != syllable]  # 臭 is chòu before it is xiù
    unnamed = [c for c in fit if c not in name_order]
    assert list(exact) == usual + other + unnamed + [c for c in exact if c in pinyin_input.UNFIT]
    assert usual == sorted(usual, key=name_order.index) and other == sorted(other, key=name_order.index)
    levels = [pinyin_input._commonness(c) for c in unnamed]
    assert levels == sorted(levels)
    offered = chars(syllable)
    assert offered[:len(fit)] == tuple(fit)  # then the longer syllables' (pian, ping...), the unfit last
    assert set(offered[len(offered) - len(exact) + len(fit):]) == set(exact) - set(fit)


def test_a_character_no_name_table_counts_is_still_offered(name_order):
    assert "疲" not in name_order  # a GB 2312 level-1 character, read pí, in no name counted
    pi = chars("pi")
    assert "疲" in pi and "疲" in chars("p")
    named = [c for c in pinyin_input.index()["pi"] if c in name_order and c not in pinyin_input.UNFIT]
    assert len(named) > 20 and all(pi.index(c) < pi.index("疲") for c in named)
    assert pi.index("疲") < min(pi.index(c) for c in pi if pinyin_input._commonness(c) > 0 and c not in name_order)


def test_death_is_not_on_the_first_page_of_wang():
    for first in (False, True):
        wang = chars("wang", first)
        assert "亡" not in wang[:WIDE]
        assert wang[-1] == "亡"  # reachable: last


def test_the_unfit_list_is_documented_and_holds_what_the_issue_names():
    assert set(NAMED_UNFIT) <= pinyin_input.UNFIT
    assert all(len(c) == 1 and "\u4e00" <= c <= "\u9fff" for c in pinyin_input.UNFIT)
    doc = pinyin_input.__doc__ or ""
    assert "UNFIT" in doc and "ngender" in doc and "MIT" in doc


def test_no_unfit_character_is_on_a_first_page_yet_each_is_reachable(drawable):
    """Every reading of every unfit character, typed whole or begun (w, wa, wan, wang), as a
    name's first character or a later one: past the first page of what the screen can draw."""
    index = pinyin_input.index()
    checked = 0
    for bad in sorted(pinyin_input.UNFIT):
        readings = [syllable for syllable, found in index.items() if bad in found]
        assert readings, bad
        for syllable in readings:
            assert bad in chars(syllable), (bad, syllable)  # reachable
            for typed in {syllable[:n] for n in range(1, len(syllable) + 1)}:
                for first in (False, True):
                    shown = [c for c in chars(typed, first) if drawable(c)]
                    if bad not in shown:
                        continue  # a begun syllable offers only the common characters of longer ones
                    if first and pinyin_input.SURNAME_READINGS.get(bad, "").startswith(typed):
                        continue  # 仇 as a surname: below
                    assert shown.index(bad) >= WIDE, (bad, typed, first)
                    checked += 1
    assert checked > 200


def test_an_unfit_surname_keeps_its_place_only_as_a_surname():
    assert "仇" in chars("qiu", first=True)[:NARROW]  # Qiú, a common surname
    assert "仇" not in chars("qiu")[:WIDE]  # in a given name
    assert "仇" not in chars("chou", first=True)[:WIDE]  # chóu, hatred: not how the surname reads
    assert chars("zeng", first=True)[0] == "曾"  # Zēng, the surname
    assert chars("ceng", first=True) == chars("ceng")  # céng: no surname reads so


def test_the_order_is_stable_across_rebuilds_and_the_dictionary_order(monkeypatch):
    pinyin_input.release()
    built = dict(pinyin_input.index())
    before = [chars(p, first) for p in ("xiu", "wang", "ying", "li", "zh", "s") for first in (False, True)]
    pinyin_input.release()
    readings = pinyin_input._readings()
    monkeypatch.setattr(pinyin_input, "_readings", lambda: dict(reversed(list(readings.items()))))
    assert pinyin_input.index() == built
    after = [chars(p, first) for p in ("xiu", "wang", "ying", "li", "zh", "s") for first in (False, True)]
    assert after == before
    pinyin_input.release()


def test_the_shipped_table_says_where_it_comes_from(name_order):
    text = pinyin_input.NAME_CHARS.read_text(encoding="utf-8")
    header = text[:text.index("\nsource")]
    for needed in ("ngender 0.1.1", "charfreq.csv", "MIT License", "Copyright (c) 2015 Jingchao Hu",
                   "Permission is hereby granted", "sha256"):
        assert needed in header, needed
    table = tomllib.loads(text)
    assert table["licence"] == "MIT" and table["size"] == len(name_order) == 9442
    assert len(set(name_order)) == len(name_order)
    assert name_order.startswith("华明伟文") and all(c <= "\uffff" for c in name_order)


def test_the_index_is_lazy_and_released():
    pinyin_input.release()
    assert not pinyin_input.ready()
    pinyin_input.warm()
    deadline = time.monotonic() + 20
    while not pinyin_input.ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pinyin_input.ready()
    assert pinyin_input._primary["仇"] == "qiu"
    pinyin_input.release()
    assert not pinyin_input.ready() and not pinyin_input._primary
    assert chars("xiu")[0] == "秀"  # built again on demand
