"""Liveness benchmarks for `make bench`.

liveness.frame_ms_p50         LivenessSession.feed per 640x480 frame, over the frames that ran the
                              landmark model (a frame that skips the model is not a cheaper frame)
                              while tracking a genuine synthetic subject through whole challenges
liveness.raw_invoke_ms_p50    the landmark model's bare Interpreter.invoke, timed inside the same
                              frames: the same interpreter object, the same thread count
liveness.frame_vs_invoke      frame_ms_p50 / raw_invoke_ms_p50: the pipeline's cost around the
                              model (the target is <= 1.5)
liveness.detect_invoke_ms_p50 the detector's bare invoke
liveness.stage_*_ms_p50       where a landmark frame's time around the model goes, from a second
                              pass over the same frames with each stage timed (kept apart so that
                              the timers add nothing to frame_ms_p50): crop (the 192x192 warp with
                              its source window copy), stats (the crop's sharpness and brightness,
                              taken before the invoke), io (writing the input into the interpreter
                              and copying the outputs out, i.e. invoke_scaled minus the invoke),
                              mesh (landmarks to frame pixels, both boxes), measure (measure()),
                              rest (the session and tracker: the frame minus those and the invoke)
liveness.rss_mb               peak resident memory of a fresh process holding both models while
                              the landmark model runs on recorded frames with a face
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FRAMES = 300
RSS_FRAMES = 90

# The child reads the recorded frames one at a time into one buffer, so the frames themselves
# add a single frame to its memory; it prints its peak VmRSS over frames that ran the landmarks.
_RSS_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
from kiosk.hw.ports import Frame
from kiosk.liveness import FaceEngine, LivenessSession
engine = FaceEngine.load()
it = engine.landmarker.model._it
ran = [0]
inner = it.invoke
def counted():
    ran[0] += 1
    inner()
it.invoke = counted
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
session, peak, with_face = LivenessSession(engine), 0.0, 0
buf = np.empty(({h}, {w}, 3), np.uint8)
with open({path!r}, "rb") as fh:
    for i in range({n}):
        fh.readinto(memoryview(buf).cast("B"))
        before = ran[0]
        session.feed(Frame(buf, i / 15.0))
        if session.done:
            session = LivenessSession(engine)
        if ran[0] > before:
            with_face += 1
            peak = max(peak, rss())
print(with_face, peak)
"""


def _timed(target: Any, store: list[float]) -> Callable[[], None]:
    inner = target.invoke

    def invoke() -> None:
        t0 = time.perf_counter()
        inner()
        store.append((time.perf_counter() - t0) * 1e3)

    return invoke


def _frames(n: int = FRAMES) -> list[Any]:
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
        if len(frames) >= n:
            break
    return frames


def rss_mb(frames: list[Any]) -> float:
    """Peak RSS of a fresh process while the landmark model runs on frames with a face."""
    shape = frames[0].rgb.shape
    with tempfile.NamedTemporaryFile(suffix=".rgb") as fh:
        for frame in frames[:RSS_FRAMES]:
            fh.write(frame.rgb.tobytes())
        fh.flush()
        script = _RSS_SCRIPT.format(root=str(ROOT), path=fh.name, n=min(RSS_FRAMES, len(frames)),
                                    h=shape[0], w=shape[1])
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, timeout=300)
    with_face, peak = out.stdout.split()[-2:]
    if int(with_face) < RSS_FRAMES // 2:
        raise RuntimeError(f"landmark model ran on only {with_face} of {RSS_FRAMES} frames")
    return float(peak)


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
    model_frames_ms = []
    for i, frame in enumerate(frames):
        if session.done:  # keep every timed frame inside a running session
            session = LivenessSession(engine, settings, random.Random(7))
        ran = len(lm_times)
        t0 = time.perf_counter()
        session.feed(frame)
        elapsed = (time.perf_counter() - t0) * 1e3
        if i >= 10 and len(lm_times) > ran:  # after warm-up, frames that ran the landmarks
            model_frames_ms.append(elapsed)
    if len(model_frames_ms) < len(frames) // 2:
        raise RuntimeError(f"landmark model ran on only {len(model_frames_ms)} frames")
    frame_p50 = statistics.median(model_frames_ms)
    raw_p50 = statistics.median(lm_times[10:])
    return {
        "liveness.frame_ms_p50": frame_p50,
        "liveness.raw_invoke_ms_p50": raw_p50,
        "liveness.detect_invoke_ms_p50": statistics.median(det_times),
        "liveness.model_frames": float(len(model_frames_ms)),
        **stages(frames),
        "liveness.rss_mb": rss_mb(frames),
    }


def stages(frames: list[Any]) -> dict[str, float]:
    """Per-stage medians over the frames that ran the landmark model once and no detector."""
    import kiosk.liveness.landmarks as landmarks_module
    import kiosk.liveness.session as session_module
    from kiosk.liveness import FaceEngine, LivenessSession, LivenessSettings

    engine = FaceEngine.load()
    lm = engine.landmarker
    log: dict[str, list[float]] = {}

    def timed(owner: Any, name: str, key: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                log.setdefault(key, []).append((time.perf_counter() - t0) * 1e3)

        setattr(owner, name, wrapper)

    timed(lm.model._it, "invoke", "invoke")
    timed(lm.model, "invoke_scaled", "scaled")
    timed(lm, "_warp", "crop")
    timed(lm, "run", "run")
    timed(engine.detector, "detect", "detect")
    measure, crop_stats = session_module.measure, landmarks_module.crop_stats
    timed(session_module, "measure", "measure")
    timed(landmarks_module, "crop_stats", "stats")
    try:
        settings = LivenessSettings(attempts=1)
        session = LivenessSession(engine, settings, random.Random(7))
        rows: dict[str, list[float]] = {k: [] for k in ("crop", "stats", "io", "mesh", "measure", "rest")}
        for i, frame in enumerate(frames):
            if session.done:
                session = LivenessSession(engine, settings, random.Random(7))
            for values in log.values():
                values.clear()
            t0 = time.perf_counter()
            session.feed(frame)
            elapsed = (time.perf_counter() - t0) * 1e3
            if i < 10 or len(log.get("run", ())) != 1 or log.get("detect") or len(log.get("measure", ())) != 1:
                continue
            (crop,), (stats,), (scaled,), (invoke,), (run,), (meas,) = (
                log[k] for k in ("crop", "stats", "scaled", "invoke", "run", "measure"))
            rows["crop"].append(crop)
            rows["stats"].append(stats)
            rows["io"].append(scaled - invoke)
            rows["mesh"].append(run - crop - stats - scaled)
            rows["measure"].append(meas)
            rows["rest"].append(elapsed - run - meas)
    finally:
        session_module.measure, landmarks_module.crop_stats = measure, crop_stats
    return {f"liveness.stage_{k}_ms_p50": statistics.median(v) for k, v in rows.items() if v}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:32s} {value:.3f}")
