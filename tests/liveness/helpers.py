"""A driver that plays a synthetic camera into a liveness session in virtual time, forwarding
cues the way the screen would (the synthetic subject sees nothing else)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kiosk.liveness import Event, FaceEngine, LivenessSession, LivenessSettings, Verdict
from simulators.camera import SyntheticCamera


@dataclass
class Run:
    verdict: Verdict
    events: list[Event] = field(default_factory=list)
    frames: int = 0
    camera: SyntheticCamera | None = None

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


def drive(engine: FaceEngine, mode: str = "genuine", seed: int = 0, face: str = "grace_hopper",
          forward_cues: bool = True, fps: float = 15.0, max_frames: int = 5000, **settings: object) -> Run:
    s = LivenessSettings(**{"attempts": 1, **settings})  # type: ignore[arg-type]
    session = LivenessSession(engine, s, random.Random(seed))
    cam = SyntheticCamera(mode=mode, seed=seed, face=face, fps=fps)
    run = Run(Verdict("cancelled"), camera=cam)
    for frame in cam.frames():
        run.frames += 1
        for ev in session.feed(frame):
            run.events.append(ev)
            if forward_cues and ev.kind == "cue":
                cam.cue(ev)
        if session.done or run.frames >= max_frames:
            break
    cam.close()
    assert session.verdict is not None, "session did not finish"
    run.verdict = session.verdict
    return run
