"""Pinyin to Chinese characters for typing a name: readings from pypinyin's dictionary; the
characters that read as the typed pinyin come in the order of how often they appear in Chinese
given names (common surnames first for a name's first character), then those no name table
counts, by how common they are (GB 2312 level 1, level 2, the rest), and characters unfit for a
name (UNFIT) last.

The name-frequency order is data/name_chars.toml, derived from charfreq.csv of the PyPI package
ngender 0.1.1 (Jingchao Hu, 2015, MIT licence): its header gives the origin, the derivation and
the licence notice."""

from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# The most common Chinese surnames, most common first (data, not display text).
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
            "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符"
            "舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆"
            "农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾"
            "隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")
# The dictionary's first reading is the word's; a few surnames are read otherwise (曾 is céng as
# a word, Zēng as a surname). Used where the first character of a name puts surnames first.
SURNAME_READINGS = {"曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "查": "zha", "覃": "qin", "缪": "miao"}

# Characters unfit for a name: offered after every other character with the typed reading, so
# never on the first page (5 to 11 cells, by screen size), where a wrong tap would put "death" in
# the name of a pensioner proving he is alive. Still offered, at the end: a real name may hold
# one, and what the card or the register says is the citizen's name. A character that is also a
# common surname (仇, Qiú) keeps its surname place as a name's first character typed with its
# surname reading ("qiu"), not under its word reading ("chou"). Not listed: 贼 (thief), the only
# common character read zei: typing "zei" asks for it, and no other would fill the page.
UNFIT = frozenset(
    "亡死尸丧棺坟墓葬殡殓骸殇"  # death and burial
    "病疯瘟癌疮瘫瘤疫"  # disease
    "屎尿屁粪秽蛆"  # body waste and filth
    "鬼魔妖煞"  # ghosts and demons
    "贱奴娼妓嫖淫奸匪囚蠢傻"  # contempt and servitude
    "仇恨哭灾祸毒杀惨殃孽"  # hatred, grief and misfortune
)
NAME_CHARS = Path(__file__).with_name("data") / "name_chars.toml"

_lock = threading.Lock()
_index: dict[str, str] | None = None
_primary: dict[str, str] = {}  # surname character -> its reading as a surname


def _toneless(reading: str) -> str:
    """'lǚ' -> 'lv' (ü is typed v, as on every pinyin keyboard); 'wáng' -> 'wang'."""
    decomposed = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _commonness(ch: str) -> int:
    """0: GB 2312 level 1 (the 3,755 common characters), 1: level 2, 2: GBK, 3: beyond."""
    try:
        code = ch.encode("gb2312")
        return 0 if code[0] < 0xD8 else 1
    except UnicodeEncodeError:
        pass
    try:
        ch.encode("gbk")
        return 2
    except UnicodeEncodeError:
        return 3


def _readings() -> dict[str, str]:
    """pypinyin's character table ({code point: "reading,reading"}) read from its JSON file,
    without importing pypinyin: its package import also loads the phrase dictionary, tens of MB
    the name keyboard never uses. The table is dropped once the index is built."""
    import importlib.util
    import json

    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pypinyin is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"
    with open(path, encoding="utf-8") as fh:
        table: dict[str, str] = json.load(fh)
    return table


def _name_order() -> str:
    """The characters of given names, the most frequent first: one str of 9,442 characters
    (about 19 KB), read only while the index is built."""
    import tomllib

    with open(NAME_CHARS, "rb") as fh:
        table = tomllib.load(fh)
    chars: str = table["chars"]
    if len(chars) != table["size"] or len(set(chars)) != len(chars):
        raise RuntimeError(f"{NAME_CHARS}: {len(chars)} characters, {len(set(chars))} distinct, "
                           f"the header says {table['size']}")
    return chars


def _build() -> dict[str, str]:
    """syllable -> its characters in rank order, one str per syllable (compact: ~50,000
    characters in ~400 strings rather than as many string objects). The rank, for a character
    and one of its readings: the name table's characters with that as their usual reading by
    their count, then with it as another of their readings (臭 is chòu before it is xiù), then
    the characters no name table counts by level, usual reading first; UNFIT last."""
    rank = {c: n for n, c in enumerate(_name_order())}  # dropped on return: only the order stays
    ranked: dict[str, list[tuple[int, int, int, int, bytes, str]]] = {}
    primary: dict[str, str] = {}
    for code, readings in _readings().items():
        ch = chr(int(code))
        if not ("\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0003134f"):
            continue  # CJK ideographs only: no radicals, no symbols
        level = _commonness(ch)
        named = rank.get(ch)
        seen: set[str] = set()
        if ch in SURNAMES:  # the usual reading is only asked of surnames (candidates(first=True))
            primary[ch] = SURNAME_READINGS.get(ch) or _toneless(readings.split(",")[0])
        for n, reading in enumerate(_toneless(r) for r in readings.split(",")):
            if reading not in seen:
                seen.add(reading)
                # The dictionary lists the usual reading first.
                usual = min(n, 1)
                if ch in UNFIT:
                    key = (3, 0, level, usual)
                elif named is None:
                    key = (2, 0, level, usual)
                else:
                    key = (usual, named, level, usual)
                ranked.setdefault(reading, []).append((*key, ch.encode("gb18030"), ch))
    index = {syllable: "".join(c for *_k, c in sorted(chars)) for syllable, chars in ranked.items()}
    _primary.clear()
    _primary.update(primary)
    log.info("event=pinyin_index syllables=%d named=%d", len(index), len(rank))
    return index


def index() -> dict[str, str]:
    """Built on first use (about 0.3 s); call warm() when the name keyboard opens to build it off
    the loop, and release() when the session ends."""
    global _index
    with _lock:
        if _index is None:
            _index = _build()
        return _index


def warm() -> None:
    threading.Thread(target=index, name="pinyin-index", daemon=True).start()


def ready() -> bool:
    return _index is not None


def release() -> None:
    """Drop the index (a few MB) until the name keyboard is opened again."""
    global _index
    with _lock:
        _index = None
        _primary.clear()


@dataclass(frozen=True)
class Candidates:
    pinyin: str
    chars: tuple[str, ...]


def candidates(pinyin: str, first: bool = False) -> Candidates:
    """Characters read `pinyin` (then those whose reading starts with it), in name-frequency
    order; for the first character of a name, common surnames with that reading come first; UNFIT
    characters come after all the others. Not cached: what a citizen typed must not outlive the
    session."""
    typed = pinyin.lower().strip()
    if not typed:
        return Candidates("", ())
    idx = index()
    exact = list(idx.get(typed, ()))
    prefixed: list[str] = []
    for syllable in sorted(k for k in idx if k.startswith(typed) and k != typed):
        prefixed += [c for c in idx[syllable] if _commonness(c) == 0]
    in_exact = set(exact)
    ordered = exact + [c for c in prefixed if c not in in_exact]
    surnames: list[str] = []
    if first:
        # A whole syllable ("shan") puts its own surnames first, a start ("sh") all that fit.
        fits = (lambda c: _primary.get(c) == typed) if exact else (lambda c: _primary.get(c, "").startswith(typed))
        surnames = sorted({c for c in ordered if c in SURNAMES and fits(c)}, key=SURNAMES.index)
    lifted = set(surnames)
    rest = [c for c in ordered if c not in lifted]
    # The exact syllable's unfit characters are already at its end; the prefixed syllables' too.
    ordered = surnames + [c for c in rest if c not in UNFIT] + [c for c in rest if c in UNFIT]
    return Candidates(typed, tuple(dict.fromkeys(ordered)))  # first place of each, in order
