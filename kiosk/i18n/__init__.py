"""Message catalogs: every user-facing string lives in kiosk/i18n/<lang>.toml, keyed by message id."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("zh_CN", "en")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class MissingMessage(KeyError):
    pass


@cache
def catalog(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    # One catalog per language, kept in a few files by subject: <lang>.toml and <subject>_<lang>.toml.
    merged: dict[str, str] = {}
    folder = resources.files(__package__)
    extra = sorted(p.name for p in folder.iterdir() if p.name.endswith(f"_{lang}.toml"))
    for name in (f"{lang}.toml", *extra):
        raw = folder.joinpath(name).read_bytes()
        part = _flatten(tomllib.loads(raw.decode()))
        clash = set(part) & set(merged)
        if clash:
            raise ValueError(f"message ids defined twice: {sorted(clash)[:5]}")
        merged.update(part)
    return merged


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = str(v)
    return out


class Translator:
    """Looks up message ids in one language; a missing id comes back as itself (and is recorded)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.missing: set[str] = set()

    def __call__(self, key: str, **fields: Any) -> str:
        text = catalog(self.lang).get(key)
        if text is None:
            self.missing.add(key)
            return key
        if not fields:
            return text
        from kiosk.i18n.dates import YearMonth, long_date

        # a date given as a value is worded here, in this language: 2026年12月31日 / 31 December 2026
        fields = {k: long_date(v, self.lang) if isinstance(v, (dt.date, YearMonth)) else v for k, v in fields.items()}
        return text.format(**fields)

    def has(self, key: str) -> bool:
        return key in catalog(self.lang)
