"""One face check: the liveness challenge over camera frames on a worker thread (the screen polls
its events and the latest frame), then the bureau's face-match verdict on the four pictures."""

from __future__ import annotations

import base64
import logging
import queue
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kiosk.hw.ports import Frame
from kiosk.liveness import GUIDANCE_KEYS, Cue, Event, FaceEngine, LivenessSession, LivenessSettings, Verdict
from kiosk.services.queries import Query, QueryFailed, ask

log = logging.getLogger(__name__)

MATCH_VERDICTS = ("match", "no_match", "no_photo_of_record", "poor_quality")
_VERIFICATION_ID = re.compile(r"^FV-[0-9A-F]{16}$")
CUE_WAIT_SLICE_S = 0.1

_engine: FaceEngine | None = None
_engine_lock = threading.Lock()
# One check at a time: the engine is not for two threads, and a camera has one frame stream.
_run_lock = threading.Lock()
_streams: dict[int, tuple[Any, Iterator[Frame]]] = {}


class CameraUnavailable(Exception):
    """The configured camera gives no frames (not installed, driver missing, unplugged)."""

    reason = "liveness.error.camera"


def face_engine(settings: LivenessSettings) -> FaceEngine:
    """The models, loaded on first use and kept for the life of the process."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = FaceEngine.load(settings)
            log.info("event=face_engine_loaded")
        return _engine


def _stream(camera: Any) -> Iterator[Frame]:
    """One frame iterator per camera for the life of the process: a virtual-clock camera restarts
    its clock with each frames() call, and its subject would replay the last check's openings."""
    held = _streams.get(id(camera))
    if held is None or held[0] is not camera:
        if not hasattr(camera, "frames"):
            raise CameraUnavailable(repr(camera))
        held = (camera, iter(camera.frames()))
        _streams.clear()  # one camera per kiosk: a replaced camera's stream is not needed again
        _streams[id(camera)] = held
    return held[1]


class FacePictures:
    """The four liveness JPEGs. Plaintext exists only here, in memory; drop() forgets them when
    the citizen session ends (the sealed copy in the outbox is the only one that stays)."""

    def __init__(self, jpegs: tuple[bytes, ...] | list[bytes]) -> None:
        self._jpegs: list[bytes] = list(jpegs)

    @property
    def jpegs(self) -> tuple[bytes, ...]:
        return tuple(self._jpegs)

    def __len__(self) -> int:
        return len(self._jpegs)

    def drop(self) -> None:
        self._jpegs.clear()

    def for_submission(self) -> list[dict[str, str]]:
        """SubmissionPayload.pictures: roles liveness_1..4."""
        return [{"role": f"liveness_{i + 1}", "jpeg_b64": base64.b64encode(j).decode("ascii")}
                for i, j in enumerate(self._jpegs)]

    def for_verify(self) -> list[dict[str, str]]:
        return [{"jpeg_b64": base64.b64encode(j).decode("ascii")} for j in self._jpegs]

    def __repr__(self) -> str:
        return f"<FacePictures n={len(self._jpegs)}>"


@dataclass(frozen=True)
class LivenessSummary:
    """What a submission and the verify request say about the challenge (schema Liveness)."""

    passed: bool
    openings: int
    duration_ms: int

    @classmethod
    def of(cls, verdict: Verdict) -> LivenessSummary:
        return cls(verdict.live, verdict.openings, int(verdict.duration_s * 1000))

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "challenge": f"mouth_open_x{self.openings}",
                "duration_ms": self.duration_ms}


@dataclass(frozen=True)
class FaceMatch:
    """The bureau's verdict on the pictures against its photo of record."""

    verdict: str  # match | no_match | no_photo_of_record | poor_quality
    verification_id: str
    score: float
    faces_found: int

    @property
    def matched(self) -> bool:
        return self.verdict == "match"


class FaceCheck:
    """One liveness attempt. `run` blocks (call it on a worker); the screen calls `poll`, `frame`,
    `remaining_s` and, when it shows a cue, `shown(cue)`: only then does the cue reach the camera's
    cue hook (the synthetic subject reacts to what the citizen is shown, nothing else), and only
    then does the worker read the next frame, so a virtual-clock camera cannot run ahead of it."""

    def __init__(self, camera: Any, settings: LivenessSettings, rng: random.Random | None = None,
                 engine: Callable[[LivenessSettings], FaceEngine] = face_engine) -> None:
        self.camera, self.settings, self.rng, self._engine = camera, settings.with_(attempts=1), rng, engine
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._remaining = self.settings.attempt_timeout_s
        self._cancelled = threading.Event()
        self._shown = threading.Event()

    # -- worker side ------------------------------------------------------------------------------
    def run(self) -> Verdict:
        with _run_lock:
            session = LivenessSession(self._engine(self.settings), self.settings, self.rng)
            t = 0.0
            for frame in _stream(self.camera):
                t = frame.timestamp
                if self._cancelled.is_set():
                    break
                events = session.feed(frame)
                with self._lock:
                    self._frame, self._remaining = frame, session.remaining_s(t)
                for ev in events:
                    self._shown.clear()
                    self._events.put(ev)
                    if isinstance(ev, Cue):
                        self._await_shown()
                if session.done:
                    break
            verdict = session.verdict or session.cancel(t)
        if self._cancelled.is_set():
            self.drop()
        return verdict

    def _await_shown(self) -> None:
        while not self._shown.wait(CUE_WAIT_SLICE_S):
            if self._cancelled.is_set():
                return

    # -- loop side --------------------------------------------------------------------------------
    def poll(self) -> list[Event]:
        out: list[Event] = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def shown(self, event: Event) -> None:
        """The screen is showing this cue now (and the voice says it): tell the camera, go on."""
        hook = getattr(self.camera, "cue", None)
        if hook is not None:
            hook(event)
        self._shown.set()

    def frame(self) -> Frame | None:
        with self._lock:
            return self._frame

    @property
    def remaining_s(self) -> float:
        with self._lock:
            return self._remaining

    def cancel(self) -> None:
        self._cancelled.set()
        self._shown.set()

    def drop(self) -> None:
        """Forget the last frame (a picture of the citizen)."""
        with self._lock:
            self._frame = None

    def __repr__(self) -> str:
        return f"<FaceCheck camera={type(self.camera).__name__} cancelled={self._cancelled.is_set()}>"


def verify_identity(query: Query, id_number: str, name: str, pictures: FacePictures,
                    liveness: LivenessSummary, timeout_s: float) -> FaceMatch:
    """Ask the bureau to compare the four pictures with its photo of record (online only)."""
    body = {"id_number": id_number, "name": name, "pictures": pictures.for_verify(),
            "liveness": liveness.to_json()}
    a = ask(query, "identity_verify", body, timeout_s)
    verdict, vid = a.get("verdict"), a.get("verification_id")
    if verdict not in MATCH_VERDICTS or not isinstance(vid, str) or not _VERIFICATION_ID.match(vid):
        raise QueryFailed("query.error.garbage", f"verify verdict={verdict!r}")
    try:
        match = FaceMatch(verdict, vid, float(a.get("score", 0.0)), int(a.get("faces_found", 0)))
    except (TypeError, ValueError):
        raise QueryFailed("query.error.garbage", "verify score") from None
    log.info("event=face_match verdict=%s score=%.3f faces=%d", match.verdict, match.score, match.faces_found)
    return match


# What the liveness screen needs of the liveness package, through this service (screens reach no
# lower layer directly).
__all__ = ["GUIDANCE_KEYS", "Event", "FaceCheck", "FaceMatch", "FacePictures", "LivenessSettings", "LivenessSummary",
           "Verdict", "face_engine", "verify_identity"]
