"""The challenge's timing rules and the guidance order, on scripted values."""

from __future__ import annotations

import random

from kiosk.liveness.challenge import Challenge
from kiosk.liveness.guidance import guidance_key
from kiosk.liveness.measures import FaceMeasures
from kiosk.liveness.settings import LivenessSettings

FPS = 15.0


def _play(ch: Challenge, ratios: list[float], t0: float = 0.0):
    events = []
    for n, r in enumerate(ratios):
        events += ch.step(t0 + n / FPS, r, True)
    return events


def _cue_time(ch: Challenge) -> float:
    events, n = [], 0
    while not events:
        events = ch.step(n / FPS, 0.02, True)
        n += 1
    return events[0].t


def test_opening_after_the_cue_counts():
    ch = Challenge(LivenessSettings(), random.Random(1))
    tc = _cue_time(ch)
    events = _play(ch, [0.02] * 8 + [0.2, 0.4, 0.45, 0.45, 0.4] + [0.03] * 3, tc + 1 / FPS)
    assert [e.kind for e in events] == ["opening"] and ch.done_openings == 1 and ch.unsolicited == 0


def test_opening_before_any_cue_is_unsolicited():
    ch = Challenge(LivenessSettings(), random.Random(1))
    events = _play(ch, [0.02] * 3 + [0.4] * 5 + [0.02] * 3)
    assert all(e.kind != "opening" for e in events) and ch.unsolicited == 1


def test_single_frame_spike_is_not_an_opening():
    ch = Challenge(LivenessSettings(), random.Random(1))
    tc = _cue_time(ch)
    events = _play(ch, [0.02] * 6 + [0.45, 0.45] + [0.02] * 3, tc + 1 / FPS)
    assert [e.kind for e in events if e.kind == "opening"] == [] and ch.unsolicited == 0


def test_too_late_is_a_missed_cue_then_unsolicited():
    ch = Challenge(LivenessSettings(), random.Random(1))
    tc = _cue_time(ch)
    events = _play(ch, [0.02] * 40 + [0.4] * 5 + [0.02] * 3, tc + 1 / FPS)
    kinds = [e.kind for e in events]
    assert "cue_missed" in kinds and "opening" not in kinds


def test_smiling_baseline_raises_the_thresholds():
    ch = Challenge(LivenessSettings(), random.Random(1))
    _play(ch, [0.18] * 20)
    assert abs(ch.closed_threshold - 0.25) < 0.01 and abs(ch.open_threshold - 0.38) < 0.01


def _m(**kw) -> FaceMeasures:
    base = dict(t=0.0, mouth_ratio=0.02, yaw_deg=0.0, pitch_deg=0.0, roll_deg=0.0, face_frac=0.35,
                centre_dx=0.0, centre_dy=0.0, eye_dist=100.0, sharpness=100.0, luma=120.0,
                eye_ratio=0.3, box=(0.0, 0.0, 1.0, 1.0))
    base.update(kw)
    return FaceMeasures(**base)


def test_guidance_order():
    s = LivenessSettings()
    assert guidance_key(None, 0, 0, 120, s) == "no_face"
    assert guidance_key(None, 0, 0, 10, s) == "too_dark"
    assert guidance_key(_m(), 2, 0, 120, s) == "several_faces"
    assert guidance_key(_m(luma=20), 1, 0, 20, s) == "too_dark"
    assert guidance_key(_m(face_frac=0.1), 1, 0, 120, s) == "move_closer"
    assert guidance_key(_m(face_frac=0.8), 1, 0, 120, s) == "move_back"
    assert guidance_key(_m(centre_dx=0.3), 1, 0, 120, s) == "centre_face"
    assert guidance_key(_m(yaw_deg=35), 1, 0, 120, s) == "face_camera"
    assert guidance_key(_m(), 1, 2.0, 120, s) == "hold_still"
    assert guidance_key(_m(), 1, 0.1, 120, s) == "ok"


def test_settings_from_config_values_and_defaults():
    s = LivenessSettings.from_config({"liveness.threads": 4, "liveness.attempt_timeout_s": 45.0,
                                      "devices.camera": "synthetic"})
    assert s.threads == 4 and s.attempt_timeout_s == 45.0 and s.attempts == 3


def test_tuning_threshold_sits_in_the_gap_or_minimises_errors():
    from kiosk.liveness.evaluate import _threshold

    assert _threshold([0.02, 0.05], [0.18, 0.2]) == (0.05 + 0.18) / 2
    t = _threshold([0.02, 0.05, 0.3], [0.18, 0.2, 0.25])
    assert sum(a >= t for a in [0.02, 0.05, 0.3]) + sum(b < t for b in [0.18, 0.2, 0.25]) == 1


def test_challenge_percentile_is_numpys_linear_percentile_to_the_bit():
    """The baseline's percentile replaced np.percentile for speed; it must give the same float."""
    import random

    import numpy as np

    from kiosk.liveness.challenge import percentile

    rng = random.Random(3)
    for _ in range(3000):
        values = [rng.choice((rng.random() * 0.5, rng.uniform(0.01, 0.05), round(rng.random(), 2)))
                  for _ in range(rng.randint(1, 60))]
        for q in (2, 30, 50, 98):
            assert percentile(values, q) == float(np.percentile(values, q))


def test_challenge_baseline_kept_sorted_is_the_windows_percentile():
    """The resting window is kept sorted as values come and go; the baseline is still the 30th
    percentile of the last 45 closed-mouth ratios, NaN included (then the window is sorted)."""
    import random

    from kiosk.liveness.challenge import Challenge, percentile
    from kiosk.liveness.settings import LivenessSettings

    rng = random.Random(5)
    for run in range(40):
        ch = Challenge(LivenessSettings(mouth_closed=2.0), random.Random(run))  # never opens
        for _ in range(rng.randint(1, 200)):
            ratio = rng.choice((rng.uniform(0.0, 0.2), round(rng.random(), 1), 0.05, float("nan")) if run % 4 == 0
                               else (rng.uniform(0.0, 0.2), round(rng.random(), 1), 0.05))
            ch._mouth(0.0, ratio)
            window = list(ch._rest)
            assert sorted(v for v in window if v == v) == ch._rest_sorted
            if len(window) >= 10:
                assert ch.baseline == percentile(window, 30) or (ch.baseline != ch.baseline
                                                                 and percentile(window, 30) != percentile(window, 30))
