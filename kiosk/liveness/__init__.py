"""Face liveness: frames in -> face track, guidance, mouth challenge, verdict, four pictures out.

    engine = FaceEngine.load(settings)              # once; loads and verifies both models
    session = LivenessSession(engine, settings)     # per citizen
    for frame in camera.frames():
        for event in session.feed(frame): ...       # Guidance, Cue, OpeningConfirmed, Finished...
        if session.done: break
    session.verdict                                 # Verdict(result, checks_fired, captures, ...)
"""

from kiosk.liveness.events import (
    CHECKS,
    GUIDANCE_KEYS,
    RESULTS,
    AttemptFailed,
    AttemptStarted,
    Capture,
    CheckFired,
    Cue,
    CueMissed,
    Event,
    Finished,
    Guidance,
    OpeningConfirmed,
    Verdict,
)
from kiosk.liveness.models import ModelError, locate
from kiosk.liveness.session import LivenessSession
from kiosk.liveness.settings import LivenessSettings
from kiosk.liveness.tracker import FaceEngine

__all__ = [
    "CHECKS", "GUIDANCE_KEYS", "RESULTS", "AttemptFailed", "AttemptStarted", "Capture", "CheckFired",
    "Cue", "CueMissed", "Event", "FaceEngine", "Finished", "Guidance", "LivenessSession",
    "LivenessSettings", "ModelError", "OpeningConfirmed", "Verdict", "locate",
]
