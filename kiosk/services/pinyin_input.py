"""Pinyin to Chinese characters for typing a name: readings from pypinyin's dictionary, common
surnames first, then characters by how common they are (GB 2312 level 1, level 2, the rest)."""

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
_lock = threading.Lock()
_index: dict[str, str] | None = None
_primary: dict[str, str] = {}  # surname character -> its usual reading


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


def _build() -> dict[str, str]:
    """syllable -> its characters in rank order, one str per syllable (compact: ~50,000
    characters in ~400 strings rather than as many string objects)."""
    ranked: dict[str, list[tuple[int, int, bytes, str]]] = {}
    primary: dict[str, str] = {}
    for code, readings in _readings().items():
        ch = chr(int(code))
        if not ("\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0003134f"):
            continue  # CJK ideographs only: no radicals, no symbols
        level = _commonness(ch)
        seen: set[str] = set()
        if ch in SURNAMES:  # the usual reading is only asked of surnames (candidates(first=True))
            primary[ch] = _toneless(readings.split(",")[0])
        for n, reading in enumerate(_toneless(r) for r in readings.split(",")):
            if reading not in seen:
                seen.add(reading)
                # The dictionary lists the usual reading first: 臭 is chòu before it is xiù.
                ranked.setdefault(reading, []).append((level, min(n, 1), ch.encode("gb18030"), ch))
    index = {syllable: "".join(c for *_k, c in sorted(chars)) for syllable, chars in ranked.items()}
    _primary.clear()
    _primary.update(primary)
    log.info("event=pinyin_index syllables=%d", len(index))
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
    """Characters read `pinyin` (then those whose reading starts with it); for the first character
    of a name, common surnames with that reading come first. Not cached: what a citizen typed
    must not outlive the session."""
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
    if first:
        # A whole syllable ("shan") puts its own surnames first, a start ("sh") all that fit.
        fits = (lambda c: _primary.get(c) == typed) if exact else (lambda c: _primary.get(c, "").startswith(typed))
        surnames = sorted({c for c in ordered if c in SURNAMES and fits(c)}, key=SURNAMES.index)
        in_surnames = set(surnames)
        ordered = surnames + [c for c in ordered if c not in in_surnames]
    return Candidates(typed, tuple(dict.fromkeys(ordered)))  # first place of each, in order
