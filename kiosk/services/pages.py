"""The maintenance menu's pages as data (kiosk/services/diagnostics.py builds them, the USB stick
page is kiosk/services/stick.py's): rows of facts, actions, and a technician's reading of a
Python error."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    label: str  # message id
    value: str  # technical value: numbers, names, states (not translated)
    state: str = ""  # "", "ok", "warn", "bad": drawn with a word as well as a colour
    literal: bool = False  # label is a technical name given by a device (ATR, fps), not a message id


@dataclass(frozen=True)
class Action:
    id: str
    label: str  # message id
    confirm: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class Page:
    id: str
    title: str  # message id
    rows: tuple[Row, ...] = ()
    actions: tuple[Action, ...] = ()
    lines: tuple[str, ...] = ()
    preview: Any = None  # an RGB numpy frame for the camera page
    note: str = ""  # message id of a plain sentence for the technician (a stick task's outcome)
    note_fields: dict[str, Any] = field(default_factory=dict)
    note_state: str = ""  # as Row.state


_REPR = re.compile(r"<([\w.]*\.)?(\w+) object at 0x[0-9a-f]+>")
_EXC_NAMED = re.compile(r"\b[A-Z]\w*(?:Error|Exception): ")
_EXC_LEFT = re.compile(r"[A-Z][a-z]\w*?(?:Error|Exception)\b")
_EXC = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Unavailable|Timeout|Gone|Removed)\((.*?)\)(?=[\s,;]|$)")


def plain(text: str) -> str:
    """A technician's reading of a value or a log line: Python's "<x.Y object at 0x..>" and an
    exception's class wrapped round its message (AttributeError('...')) come out as words."""
    text = _REPR.sub(lambda m: m.group(2), text)
    text = _EXC_NAMED.sub("", text)
    text = _EXC.sub(lambda m: m.group(1) or "failed", text)
    # what is left (a traceback's last line, a class named on its own): its name in words
    return _EXC_LEFT.sub(lambda m: " ".join(w.lower() for w in re.findall(r"[A-Z][a-z0-9]*", m.group(0))), text)


def problem(exc: BaseException) -> str:
    """What went wrong, in the exception's own words, without its Python class name."""
    words = str(exc).strip().strip("'\"")
    return plain(words) if words else "failed, no detail given"
