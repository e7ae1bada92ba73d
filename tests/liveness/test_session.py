"""Whole liveness sessions against the synthetic camera, in virtual time (no sleeping)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from tests.liveness.helpers import drive


@pytest.mark.parametrize("face,seed", [("grace_hopper", 0), ("astronaut", 3)])
def test_genuine_subject_passes_with_four_pictures(engine, face, seed):
    """GIVEN a synthetic person who opens the mouth when cued WHEN the session runs THEN live,
    three openings in cue order, four JPEG pictures of which one closed and one open."""
    run = drive(engine, "genuine", seed=seed, face=face)
    v = run.verdict
    assert v.result == "live" and v.checks_fired == () and v.openings == 3
    cues, opens = run.kinds("cue"), run.kinds("opening")
    assert [c.index for c in cues] == [1, 2, 3] and [o.index for o in opens] == [1, 2, 3]
    for cue, opening in zip(cues, opens):
        assert cue.t < opening.t and 0.2 <= opening.latency_s <= 1.6
    assert [c.slot for c in run.kinds("capture")] == [0, 1, 2, 3]
    assert [c.mouth for c in run.kinds("capture")] == ["closed", "open", "closed", "open"]
    assert len(v.captures) == 4
    pictures = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in v.captures]
    assert all(j[:2] == b"\xff\xd8" for j in v.captures)
    assert all(p.shape == (480, 640, 3) for p in pictures)
    ratios = [engine_ratio(engine, p) for p in pictures]
    assert ratios[0] < 0.25 and ratios[1] > ratios[0] + 0.15 and ratios[3] > ratios[2] + 0.15


def engine_ratio(engine, bgr):
    from kiosk.liveness.landmarks import Roi
    from kiosk.liveness.measures import measure

    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    det = engine.detector.detect(rgb)[0]
    mesh = engine.landmarker.run(rgb, Roi.from_detection(det))
    mesh = engine.landmarker.run(rgb, Roi.from_landmarks(mesh.points))
    return measure(mesh, rgb.shape, 0.0).mouth_ratio


def test_subject_reacts_only_to_cues(engine):
    """GIVEN the same person but nobody shows them the cues THEN no opening ever counts."""
    run = drive(engine, "genuine", forward_cues=False, attempt_timeout_s=12)
    assert run.verdict.result == "timeout" and run.verdict.openings == 0
    assert run.camera is not None and run.camera.subject.cues_seen == []


def test_still_photo_is_spoof(engine):
    run = drive(engine, "still", seed=1)
    assert run.verdict.result == "spoof" and run.verdict.checks_fired == ("still_photo",)
    assert run.verdict.captures == ()


def test_replay_is_spoof(engine):
    run = drive(engine, "replay", seed=1)
    assert run.verdict.result == "spoof" and "replay" in run.verdict.checks_fired
    assert run.verdict.reason == "replay"


@pytest.mark.parametrize("mode,result", [("noface", "no_face"), ("twofaces", "several_faces"),
                                         ("dark", "too_dark")])
def test_blocked_sessions_fail_with_the_reason(engine, mode, result):
    run = drive(engine, mode, seed=2, attempt_timeout_s=8)
    assert run.verdict.result == result and run.verdict.checks_fired == ()
    assert run.kinds("guidance")[0].key == result and run.kinds("cue") == []


def test_face_swapped_mid_challenge_is_caught(engine):
    run = drive(engine, "swap", seed=1)
    assert run.verdict.result != "live"
    assert {"face_changed", "track_broken"} & set(run.verdict.checks_fired)


def test_timeout_on_frame_time_without_sleeping(engine):
    """GIVEN a live person who never responds WHEN 30 s of frames pass THEN timeout, and the
    still-photo check stays quiet because the person blinks."""
    t0 = time.monotonic()
    run = drive(engine, "unresponsive", seed=1)
    assert run.verdict.result == "timeout" and run.verdict.checks_fired == ()
    assert run.verdict.duration_s == pytest.approx(30.0, abs=0.1)
    assert len(run.kinds("cue")) >= 4 and len(run.kinds("cue_missed")) >= 4
    assert time.monotonic() - t0 < 20


def test_three_failed_attempts_refer_to_the_counter(engine):
    run = drive(engine, "unresponsive", seed=4, attempts=3, attempt_timeout_s=6)
    v = run.verdict
    assert v.result == "referred" and v.reason == "timeout" and v.attempts == 3
    assert [e.attempt for e in run.kinds("attempt_started")] == [1, 2, 3]
    assert [e.attempts_left for e in run.kinds("attempt_failed")] == [2, 1, 0]


def test_any_frontal_photo_file_can_be_the_subject(engine, tmp_path):
    """synthetic:PATH places the mouth and eyes with OpenCV's own face finder, not ours."""
    from simulators.camera.faces import load_face

    path = tmp_path / "someone.png"
    cv2.imwrite(str(path), cv2.cvtColor(load_face("grace_hopper").rgb, cv2.COLOR_RGB2BGR))
    run = drive(engine, "genuine", seed=5, face=str(path))
    assert run.verdict.result == "live" and len(run.verdict.captures) == 4


@pytest.mark.parametrize("spec,key", [
    ("scale=0.45", "move_closer"), ("scale=2.0", "move_back"), ("dx=0.3", "centre_face"),
    ("roll=35", "face_camera"), ("shake=40", "hold_still"), ("dark", "too_dark"),
    ("noface", "no_face"), ("twofaces", "several_faces"), ("", "ok")])
def test_each_guidance_state_can_be_reached(engine, spec, key):
    """The synthetic camera's placement options put the pipeline in every guidance state (the
    screen's screenshots use the same specs)."""
    import random

    from kiosk.liveness import LivenessSession, LivenessSettings
    from simulators.camera import open_camera

    cam = open_camera("synthetic:realtime=0," + spec)
    session = LivenessSession(engine, LivenessSettings(attempts=1), random.Random(1))
    seen = []
    for n, frame in enumerate(cam.frames()):
        seen += [e.key for e in session.feed(frame) if e.kind == "guidance"]
        if n >= 30:
            break
    assert seen[-1] == key and session.guidance == key, seen


def test_track_break_restarts_the_challenge(engine):
    """GIVEN a person who steps out of view after the first opening WHEN they come back THEN the
    track_broken check reports it, the challenge starts again, and all four pictures come from
    the new, unbroken track."""
    run = drive(engine, "leave", seed=1)
    v = run.verdict
    assert "track_broken" in v.checks_fired
    assert v.result == "live" and v.openings == 3 and len(v.captures) == 4
    broke = next(e for e in run.events if e.kind == "check")
    assert [c.slot for c in run.kinds("capture") if c.t > broke.t] == [0, 1, 2, 3]
    assert [o.index for o in run.kinds("opening") if o.t > broke.t] == [1, 2, 3]
