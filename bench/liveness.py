"""Liveness benchmarks for `make bench` (bench/__main__.py SUITES needs ("bench.liveness", ("run",))).

liveness.frame_ms_p50         LivenessSession.feed per 640x480 frame while tracking a genuine
                              synthetic subject through a whole challenge (detector every 1 s)
liveness.raw_invoke_ms_p50    the landmark model's bare Interpreter.invoke, timed in the same run
liveness.detect_invoke_ms_p50 the detector's bare invoke (a detection-only pass over the same frames)
liveness.frame_over_invoke    frame_ms_p50 / raw_invoke_ms_p50: the pipeline's cost around the model
liveness.rss_mb               resident memory of a fresh Python process with both models loaded
                              and one frame processed
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FRAMES = 300

_RSS_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from kiosk.hw.ports import Frame
import numpy as np
from kiosk.liveness import FaceEngine, LivenessSession
engine = FaceEngine.load()
LivenessSession(engine).feed(Frame(np.zeros((480, 640, 3), np.uint8), 0.0))
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) / 1024)
"""


def _timed(target: Any, store: list[float]) -> Callable[[], None]:
    inner = target.invoke

    def invoke() -> None:
        t0 = time.perf_counter()
        inner()
        store.append((time.perf_counter() - t0) * 1e3)

    return invoke


def _frames() -> list[Any]:
    """A genuine challenge recorded from the synthetic camera (cues answered), so rendering is
    not part of the timing."""
    from kiosk.liveness import FaceEngine, LivenessSession, LivenessSettings
    from simulators.camera import SyntheticCamera

    engine = FaceEngine.load()
    session = LivenessSession(engine, LivenessSettings(attempts=1), random.Random(7))
    cam = SyntheticCamera(seed=7, fps=15.0)
    frames = []
    for frame in cam.frames():
        frames.append(frame)
        for ev in session.feed(frame):
            if ev.kind == "cue":
                cam.cue(ev)
        if len(frames) >= FRAMES:
            break
    return frames


def rss_mb() -> float:
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT.format(root=str(ROOT))],
                         capture_output=True, text=True, check=True, timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


def run() -> dict[str, float]:
    from kiosk.liveness import FaceEngine, LivenessSession, LivenessSettings

    frames = _frames()
    engine = FaceEngine.load()
    lm_times: list[float] = []
    det_times: list[float] = []
    engine.landmarker.model._it.invoke = _timed(engine.landmarker.model._it, lm_times)
    engine.detector.model._it.invoke = _timed(engine.detector.model._it, det_times)
    settings = LivenessSettings(attempts=1)
    session = LivenessSession(engine, settings, random.Random(7))
    feed_ms = []
    for frame in frames:
        if session.done:  # keep every timed frame inside a running session
            session = LivenessSession(engine, settings, random.Random(7))
        t0 = time.perf_counter()
        session.feed(frame)
        feed_ms.append((time.perf_counter() - t0) * 1e3)
    for frame in frames[:100]:
        engine.detector.detect(frame.rgb)
    frame_p50 = statistics.median(feed_ms[10:])
    raw_p50 = statistics.median(lm_times)
    return {
        "liveness.frame_ms_p50": frame_p50,
        "liveness.raw_invoke_ms_p50": raw_p50,
        "liveness.detect_invoke_ms_p50": statistics.median(det_times),
        "liveness.frame_over_invoke": frame_p50 / raw_p50,
        "liveness.rss_mb": rss_mb(),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:32s} {value:.3f}")
