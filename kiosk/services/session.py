"""One citizen's session: its personal data, its language, and the inactivity timer.

Personal data is held only here (and in the screens' entry buffers, which register with the
session) and is wiped when the session ends: finish, cancel or inactivity timeout.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

log = logging.getLogger(__name__)
CARE_TIME = 2.0  # care mode (长辈模式): twice the time before the session asks "are you still there?"
_tokens = itertools.count(1)


class Phase(str, Enum):
    ACTIVE = "active"
    PROMPTING = "prompting"  # "are you still there?" with a countdown
    EXPIRED = "expired"


@dataclass
class CitizenSession:
    token: int
    language: str
    care_mode: bool
    started: float
    data: dict[str, Any] = field(default_factory=dict)  # personal data of this session only
    wipers: list[Callable[[], None]] = field(default_factory=list)

    def remember(self, key: str, value: Any) -> None:
        self.data[key] = value

    def on_wipe(self, wiper: Callable[[], None]) -> None:
        """Register a buffer cleaner (keypad, cache) to run when the session ends."""
        self.wipers.append(wiper)

    def wipe(self) -> None:
        for _key, value in list(self.data.items()):
            if isinstance(value, bytearray):
                value[:] = b"\0" * len(value)
        self.data.clear()
        for wiper in self.wipers:
            wiper()
        self.wipers.clear()

    def __repr__(self) -> str:  # never the data itself
        return f"<CitizenSession token={self.token} fields={len(self.data)} lang={self.language}>"


class SessionManager:
    """Starts and ends sessions and runs the inactivity timer on an injected clock."""

    def __init__(self, inactivity_s: float, countdown_s: float, default_language: str,
                 default_care_mode: bool = False) -> None:
        self.inactivity_s, self.countdown_s = inactivity_s, countdown_s
        self.default_language, self.default_care_mode = default_language, default_care_mode
        self.session: CitizenSession | None = None
        self.last_touch = 0.0
        self.on_end: list[Callable[[CitizenSession, str], None]] = []

    def begin(self, now: float) -> CitizenSession:
        if self.session is None:
            self.session = CitizenSession(next(_tokens), self.default_language,
                                          self.default_care_mode, now)
            log.info("event=session_begin token=%d", self.session.token)
        self.last_touch = now
        return self.session

    def current(self) -> CitizenSession:
        """The session a flow step runs in (the first touch began it): a step without one is a bug."""
        if self.session is None:
            raise RuntimeError("a flow step ran outside a citizen session")
        return self.session

    def touch(self, now: float) -> None:
        self.last_touch = now

    @property
    def idle_s(self) -> float:
        """How long without a touch before "are you still there?": twice as long in care mode."""
        return self.inactivity_s * (CARE_TIME if self.care_mode else 1.0)

    def phase(self, now: float) -> Phase:
        if self.session is None:
            return Phase.ACTIVE
        idle = now - self.last_touch
        if idle < self.idle_s:
            return Phase.ACTIVE
        if idle < self.idle_s + self.countdown_s:
            return Phase.PROMPTING
        return Phase.EXPIRED

    def seconds_left(self, now: float) -> float:
        return max(0.0, self.idle_s + self.countdown_s - (now - self.last_touch))

    def end(self, why: str) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        for callback in self.on_end:
            callback(session, why)
        session.wipe()
        log.info("event=session_end token=%d why=%s", session.token, why)

    @property
    def language(self) -> str:
        return self.session.language if self.session else self.default_language

    @property
    def care_mode(self) -> bool:
        return self.session.care_mode if self.session else self.default_care_mode
