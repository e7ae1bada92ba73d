"""Citizen ID numbers (GB 11643-1999): structure and the ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # index = weighted sum mod 11
LENGTH = 18


class IdProblem(str, Enum):
    """Why an ID number is not valid; values are message keys the UI translates."""

    TOO_SHORT = "id.problem.too_short"
    TOO_LONG = "id.problem.too_long"
    BAD_CHARACTER = "id.problem.bad_character"
    X_NOT_LAST = "id.problem.x_not_last"
    BAD_DATE = "id.problem.bad_date"
    BAD_CHECK = "id.problem.bad_check"


def check_char(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError("need exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS))
    return CHECK_CHARS[total % 11]


def problem(text: str, today: dt.date | None = None) -> IdProblem | None:
    """The first problem with a complete or partial entry; None when valid (or valid so far).

    A partial entry (fewer than 18 characters) reports only what is already wrong, so the
    keypad can say so while the citizen types; completeness is checked by `validate`.
    """
    text = text.upper()
    for i, ch in enumerate(text):
        if ch == "X":
            if i != LENGTH - 1:
                return IdProblem.X_NOT_LAST
        elif not (ch.isascii() and ch.isdigit()):
            return IdProblem.BAD_CHARACTER
    if len(text) > LENGTH:
        return IdProblem.TOO_LONG
    if len(text) >= 14 and not _plausible_birth_date(text[6:14], today):
        return IdProblem.BAD_DATE
    if len(text) == LENGTH and check_char(text[:17]) != text[17]:
        return IdProblem.BAD_CHECK
    return None


def validate(text: str, today: dt.date | None = None) -> IdProblem | None:
    """None if text is a complete, valid ID number."""
    found = problem(text, today)
    if found is None and len(text) < LENGTH:
        return IdProblem.TOO_SHORT
    return found


def is_valid(text: str) -> bool:
    return validate(text) is None


def sex(id_number: str) -> str | None:
    """"male" or "female" from the 17th character (the sequence code: odd for men, even for
    women); None when the number is too short or that character is not a digit."""
    digit = id_number[16:17]
    if not (digit.isascii() and digit.isdigit()):
        return None
    return "male" if int(digit) % 2 else "female"


def _plausible_birth_date(yyyymmdd: str, today: dt.date | None) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    # A clock we cannot trust must not reject a real citizen: only the far future is refused.
    limit = today or dt.date(2100, 1, 1)
    return dt.date(1870, 1, 1) <= born <= limit


@dataclass(frozen=True)
class CitizenId:
    """A valid ID number. repr/str are masked so it cannot leak into logs by accident."""

    number: str

    def __post_init__(self) -> None:
        found = validate(self.number)
        if found is not None:
            raise ValueError(found.value)

    @property
    def region(self) -> str:
        return self.number[:6]

    @property
    def birth_date(self) -> dt.date:
        n = self.number
        return dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))

    @property
    def is_male(self) -> bool:
        return int(self.number[16]) % 2 == 1

    def __repr__(self) -> str:
        from kiosk.domain.masking import mask_id

        return f"CitizenId({mask_id(self.number)})"

    __str__ = __repr__
