"""Line breaking for screens and receipts: one set of rules for Chinese and Latin text.

Pure Python: the caller says whether a candidate line fits (pixels of a font on the screen,
columns or dots on paper), so the touch screen and the receipt break the same text the same way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

# Kinsoku (GB/T 15834 and W3C clreq practice): closing punctuation never starts a line...
NO_LINE_START = frozenset(
    "。，、；：？！）」』》〉】〕〗〙”’…‥·．％‰"  # Chinese and fullwidth
    "！？，；：）］｝｠"  # fullwidth forms of ASCII
    ",.;:!?)]}%"  # ASCII, when it follows a Chinese character
)
# ...and opening punctuation (or a currency sign) never ends one.
NO_LINE_END = frozenset("（「『《〈【〔〖〘“‘［｛｟￥¥£€([{")

_LATIN_ORPHAN_MAX = 4  # a last line of one Latin word this short is an orphan too ("code", "OK.")

Fits = Callable[[str], bool]


def fits_within(width: float, measure: Callable[[str], float]) -> Fits:
    """`fits` for a width and a measure of a line (pixels, dots or printer columns)."""
    return lambda line: measure(line) <= width


def break_lines(text: str, fits: Fits) -> list[str]:
    """Lines of `text`, each one that `fits` (unless a single word or character is too wide).

    - "\\n" always breaks; an empty paragraph is an empty line; spaces at a break are dropped.
    - A line may break at a space, or beside a Chinese (wide) character; so never inside a run
      of Latin letters and digits with its punctuation ("1,234.56", "12333", "don’t").
    - A word wider than a line is broken between any two of its characters.
    - Kinsoku: no line starts with a character of NO_LINE_START or ends with one of NO_LINE_END.
    - No orphan: a last line of one character (or one short Latin word) takes the last piece of
      the line above, when that line keeps two pieces (characters or words) and the new last
      line fits.
    """
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").split("\n"):
        filling = _Rows(fits)
        for piece in _pieces(_atoms(paragraph)):
            filling.add(piece)
        _no_orphan(filling.rows, fits)
        lines += [_join(row) for row in filling.rows]
    return lines


@cache  # per character: the kiosk's texts use a few thousand at most
def is_word_char(ch: str) -> bool:
    """Part of a word that is never split: ASCII, or a letter, digit or mark that is not a wide
    (Chinese, Japanese, Korean) character. Fullwidth letters and digits count as Latin."""
    if ch.isspace():
        return False
    if ch.isascii():
        return True
    category = unicodedata.category(ch)
    if category[0] not in "LNM":
        return False
    return category != "Lo" or not _wide(ch)


@cache
def _wide(ch: str) -> bool:
    """Chinese, Japanese and Korean characters, and fullwidth forms: a line may break beside one."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


# A chunk is (space before it, its text): the pieces between break opportunities.
Chunk = tuple[str, str]


def _atoms(paragraph: str) -> list[Chunk]:
    """Words and single other characters, each with the whitespace before it."""
    atoms: list[Chunk] = []
    space = word = ""
    for ch in paragraph:
        if is_word_char(ch):
            word += ch
            continue
        if word:
            atoms.append((space, word))
            space = word = ""
        if ch.isspace():
            space += ch
        else:
            atoms.append((space, ch))
            space = ""
    if word:
        atoms.append((space, word))
    return atoms


class _Piece(NamedTuple):
    """Text no break may enter: a kinsoku group of atoms, an atom, or one character."""

    space: str
    text: str
    atoms: tuple[Chunk, ...]

    def parts(self) -> list[_Piece]:
        """What a piece too wide for a whole line comes apart into: a group into its atoms, a
        word into its characters (better than overflowing), a closing mark kept with the one
        before it."""
        if len(self.atoms) > 1:
            return [_Piece(space, atom, ((space, atom),)) for space, atom in self.atoms]
        chars: list[str] = []
        for ch in self.text:  # kinsoku inside a word too: "example" | ".invalid" would start with "."
            if chars and ch in NO_LINE_START:
                chars[-1] += ch
            else:
                chars.append(ch)
        return [_Piece(self.space if i == 0 else "", part, ()) for i, part in enumerate(chars)]


def _pieces(atoms: list[Chunk]) -> list[_Piece]:
    """Glue atoms no break may separate: kinsoku, and two atoms with no space between them and
    no wide character on either side ("don’t", an em dash in English, "——" in Chinese)."""
    groups: list[list[Chunk]] = []
    for space, atom in atoms:
        before = groups[-1][-1][1][-1] if groups else ""
        if groups and (atom[0] in NO_LINE_START or before in NO_LINE_END
                       or not (space or _wide(before) or _wide(atom[0]))):
            groups[-1].append((space, atom))
        else:
            groups.append([(space, atom)])
    return [_Piece(group[0][0], group[0][1] if len(group) == 1 else _join(group), tuple(group))
            for group in groups]


class _Rows:
    """Greedy filling: each line takes pieces while it fits; a piece that does not starts the next
    line, or comes apart if it is too wide for any line."""

    def __init__(self, fits: Fits) -> None:
        self.fits = fits
        self.rows: list[list[Chunk]] = [[]]
        self.line = ""

    def add(self, piece: _Piece) -> None:
        if self.rows[-1] and self.fits(self.line + piece.space + piece.text):
            self.rows[-1].append((piece.space, piece.text))
            self.line += piece.space + piece.text
            return
        if len(piece.text) > 1 and not self.fits(piece.text):
            for part in piece.parts():
                self.add(part)
            return
        if self.rows[-1]:
            self.rows.append([])
        self.rows[-1].append((piece.space, piece.text))
        self.line = piece.text


def _join(row: list[Chunk]) -> str:
    """A line's text: the space before its first chunk is where it broke, so it is dropped."""
    return "".join(space + text for space, text in row)[len(row[0][0]):] if row else ""


def is_orphan(text: str) -> bool:
    """A last line too short to stand alone: one character, or one short Latin word."""
    core = text.strip("".join(NO_LINE_START | NO_LINE_END) + " ")
    if len(core) <= 1:
        return True
    return all(is_word_char(ch) for ch in core) and len(core) <= _LATIN_ORPHAN_MAX


def _no_orphan(rows: list[list[Chunk]], fits: Fits) -> None:
    """Pull the last chunk of the line above down to an orphan, when a better break exists."""
    if len(rows) < 2 or len(rows[-1]) != 1 or len(rows[-2]) < 3 or not is_orphan(rows[-1][0][1]):
        return  # the line above keeps two pieces (characters, words): no new orphan one line up
    kept, moved = rows[-2][:-1], rows[-2][-1]
    last = [moved, *rows[-1]]
    if not fits(_join(last)):
        return
    rows[-2:] = [kept, last]
