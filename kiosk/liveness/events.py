"""What the pipeline tells its driver (screen, voice, CLI, synthetic camera): frozen values.

Every event carries the frame timestamp `t` it was produced on and a class-level `kind`;
`to_dict()` gives a JSON-ready form. The screen maps `Guidance.key` to the message key
`liveness.guidance.<key>` and shows/speaks every `Cue`; the synthetic camera reacts to `Cue` only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

GUIDANCE_KEYS = ("ok", "no_face", "several_faces", "too_dark", "move_closer", "move_back",
                 "centre_face", "face_camera", "hold_still")
RESULTS = ("live", "spoof", "no_face", "several_faces", "too_dark", "timeout", "referred", "cancelled")
CHECKS = ("still_photo", "replay", "face_changed", "track_broken")


@dataclass(frozen=True)
class Event:
    t: float
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind
        return d


@dataclass(frozen=True)
class AttemptStarted(Event):
    attempt: int = 1
    attempts: int = 3
    timeout_s: float = 30.0
    kind: ClassVar[str] = "attempt_started"


@dataclass(frozen=True)
class Guidance(Event):
    key: str = "ok"  # one of GUIDANCE_KEYS
    kind: ClassVar[str] = "guidance"


@dataclass(frozen=True)
class Cue(Event):
    """Show and say 'open your mouth' now."""

    index: int = 1  # which opening this cue asks for, 1-based
    total: int = 3
    action: str = "open_mouth"
    kind: ClassVar[str] = "cue"


@dataclass(frozen=True)
class OpeningConfirmed(Event):
    index: int = 1  # progress: index/total
    total: int = 3
    latency_s: float = 0.0  # from the cue to the start of the opening
    kind: ClassVar[str] = "opening"


@dataclass(frozen=True)
class CueMissed(Event):
    index: int = 1
    kind: ClassVar[str] = "cue_missed"


@dataclass(frozen=True)
class Capture(Event):
    slot: int = 0  # 0..3
    mouth: str = "closed"  # closed | open
    kind: ClassVar[str] = "capture"


@dataclass(frozen=True)
class CheckFired(Event):
    check: str = ""  # one of CHECKS
    attempt: int = 1
    detail: str = ""  # key=value measurements, no personal data
    kind: ClassVar[str] = "check"


@dataclass(frozen=True)
class AttemptFailed(Event):
    attempt: int = 1
    reason: str = "timeout"
    attempts_left: int = 0
    kind: ClassVar[str] = "attempt_failed"


@dataclass(frozen=True)
class Verdict:
    """The outcome. `result`: live | spoof | no_face | several_faces | too_dark | timeout |
    referred (every attempt failed; `reason` says how the last one did) | cancelled.
    `captures` holds the four JPEG pictures only when live."""

    result: str
    reason: str = ""
    checks_fired: tuple[str, ...] = ()
    openings: int = 0
    captures: tuple[bytes, ...] = ()
    attempts: int = 1
    duration_s: float = 0.0
    details: tuple[CheckFired, ...] = ()

    @property
    def live(self) -> bool:
        return self.result == "live"

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result, "reason": self.reason, "checks_fired": list(self.checks_fired),
                "openings": self.openings, "captures": len(self.captures), "attempts": self.attempts,
                "duration_s": round(self.duration_s, 2),
                "details": [c.to_dict() for c in self.details]}


@dataclass(frozen=True)
class Finished(Event):
    verdict: Verdict = field(default_factory=lambda: Verdict("cancelled"))
    kind: ClassVar[str] = "finished"

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "kind": self.kind, "verdict": self.verdict.to_dict()}
