"""Dates as a citizen reads them: 2026年12月31日 in Chinese, 31 December 2026 in English (and a
year and month alone as 2024年11月 / November 2024). The one place screens turn a date into words;
receipts and the bureau keep ISO dates where a machine reads them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
WEEKDAYS = {"zh_CN": ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
            "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}
_ISO = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?")


@dataclass(frozen=True)
class YearMonth:
    """A month of a year (a contribution month, arrears since): 2024年11月 / November 2024."""

    year: int
    month: int


def from_iso(text: str) -> dt.date | YearMonth | str:
    """A date the bureau wrote (2025-06-30, 2024-11) as a value the translator words in the
    citizen's language when it is drawn; anything else stays the text it was."""
    m = _ISO.match(text.strip()) if isinstance(text, str) else None
    if m is None or not 1 <= int(m[2]) <= 12:
        return text
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])) if m[3] else YearMonth(int(m[1]), int(m[2]))
    except ValueError:
        return text


def long_date(value: dt.date | YearMonth | str, lang: str) -> str:
    """A date (or an ISO text: 2026-12-31, 2026-12-31T..., 2024-11) in the citizen's words; a text
    that is not an ISO date comes back as it is (nothing is guessed)."""
    if isinstance(value, str):
        value = from_iso(value)
        if isinstance(value, str):
            return value
    if isinstance(value, YearMonth):
        year, month, day = value.year, value.month, 0
    else:
        year, month, day = value.year, value.month, value.day
    # a moment (an activation code's deadline) keeps its time of day, in the kiosk's time zone
    clock = f" {value:%H:%M}" if isinstance(value, dt.datetime) else ""
    if lang == "zh_CN":
        return (f"{year}年{month}月{day}日" if day else f"{year}年{month}月") + clock
    return (f"{day} {MONTHS_EN[month - 1]} {year}" if day else f"{MONTHS_EN[month - 1]} {year}") + clock


def weekday(value: dt.date, lang: str) -> str:
    return WEEKDAYS["zh_CN" if lang == "zh_CN" else "en"][value.weekday()]
