"""Message catalogs: every user-facing string lives in kiosk/i18n/<lang>.toml, keyed by message id."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

LANGUAGES = ("zh_CN", "en")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class MissingMessage(KeyError):
    pass


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    raw = resources.files(__package__).joinpath(f"{lang}.toml").read_bytes()
    return _flatten(tomllib.loads(raw.decode()))


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
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        return key in catalog(self.lang)
