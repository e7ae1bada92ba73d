"""`kiosk liveness eval`: APCER per attack type and BPCER on synthetic trials (ISO/IEC 30107-3 terms).

Thresholds of the still-photo and face-change checks are tuned on one set (one face, one range
of seeds) and the figures are measured on another (an unseen face, and unseen seeds of the first).
The camera is the synthetic one, reached through the device registry like any camera.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kiosk.liveness.events import Verdict
from kiosk.liveness.session import LivenessSession
from kiosk.liveness.settings import LivenessSettings
from kiosk.liveness.tracker import FaceEngine

ATTACKS = ("still", "replay", "swap")  # presentation attacks: APCER per type
CONDITIONS = ("noface", "twofaces", "dark")  # not attacks, but must never pass either
TUNE_FACE, EVAL_FACES = "grace_hopper", ("astronaut", "grace_hopper")
EVAL_SEED0 = 1000


@dataclass
class Trial:
    mode: str
    face: str
    seed: int
    verdict: Verdict
    stats: dict[str, float] = field(default_factory=dict)


def run_trial(engine: FaceEngine, settings: LivenessSettings, mode: str, face: str, seed: int,
              cfg: Any = None) -> Trial:
    from kiosk.hw.registry import open_adapter

    camera = open_adapter("camera", f"synthetic:{face},mode={mode},seed={seed},realtime=0", cfg)
    if not hasattr(camera, "frames"):
        raise RuntimeError(f"synthetic camera unavailable: {camera!r}")
    session = LivenessSession(engine, settings, random.Random(seed * 31 + 7))
    try:
        for frame in camera.frames():
            for ev in session.feed(frame):
                if ev.kind == "cue":
                    camera.cue(ev)
            if session.done:
                break
    finally:
        camera.close()
    assert session.verdict is not None
    return Trial(mode, face, seed, session.verdict, session.diagnostics())


def _threshold(attack: list[float], bona_fide: list[float]) -> float:
    """Midpoint of the gap when attack values lie below bona fide ones; else the value with fewest
    errors on the tuning set."""
    if not attack or not bona_fide:
        raise ValueError("tuning needs both attack and bona fide values")
    if max(attack) < min(bona_fide):
        return (max(attack) + min(bona_fide)) / 2
    candidates = sorted(set(attack + bona_fide))
    return min(candidates, key=lambda c: sum(a >= c for a in attack) + sum(b < c for b in bona_fide))


def tune(engine: FaceEngine, base: LivenessSettings, trials: int, log: Any = print,
         cfg: Any = None) -> tuple[LivenessSettings, dict[str, Any]]:
    open_checks = base.with_(still_eye_dip=-1.0, face_change_ncc=-2.0, attempts=1)  # observe, never fire
    seeds = range(trials)
    runs = {mode: [run_trial(engine, open_checks, mode, TUNE_FACE, s, cfg) for s in seeds]
            for mode in ("genuine", "unresponsive", "still", "swap")}
    dips = {m: [t.stats["eye_dip"] for t in runs[m] if "eye_dip" in t.stats] for m in ("still", "unresponsive")}
    nccs = {m: [t.stats["min_ncc"] for t in runs[m] if "min_ncc" in t.stats] for m in ("swap", "genuine")}
    eye_dip = _threshold(dips["still"], dips["unresponsive"])
    ncc = _threshold(nccs["swap"], nccs["genuine"])
    report: dict[str, Any] = {"face": TUNE_FACE, "seeds": f"0-{trials - 1}", "trials": {m: len(v) for m, v in runs.items()},
              "still_eye_dip": round(eye_dip, 3), "face_change_ncc": round(ncc, 3),
              "still_dip_max": round(max(dips["still"]), 3), "bona_fide_dip_min": round(min(dips["unresponsive"]), 3),
              "swap_ncc_max": round(max(nccs["swap"]), 3), "genuine_ncc_min": round(min(nccs["genuine"]), 3)}
    log(f"tuning set: face {TUNE_FACE}, seeds 0-{trials - 1}; "
        + ", ".join(f"{m} {n}" for m, n in report["trials"].items()) + " trials")
    log(f"  still_eye_dip   = {eye_dip:.3f}  (photo max {report['still_dip_max']}, "
        f"non-responding person min {report['bona_fide_dip_min']})")
    log(f"  face_change_ncc = {ncc:.3f}  (swap max {report['swap_ncc_max']}, genuine min {report['genuine_ncc_min']})")
    return base.with_(still_eye_dip=eye_dip, face_change_ncc=ncc), report


def evaluate(engine: FaceEngine, settings: LivenessSettings, trials: int, log: Any = print,
             cfg: Any = None) -> dict[str, Any]:
    s1 = settings.with_(attempts=1)
    seeds = range(EVAL_SEED0, EVAL_SEED0 + trials)
    per_mode: dict[str, list[Trial]] = {}
    for mode in ("genuine", "unresponsive", *ATTACKS):
        per_mode[mode] = [run_trial(engine, s1, mode, face, seed, cfg) for face in EVAL_FACES for seed in seeds]
    few = range(EVAL_SEED0, EVAL_SEED0 + max(2, trials // 3))
    for mode in CONDITIONS:
        per_mode[mode] = [run_trial(engine, s1.with_(attempt_timeout_s=10.0), mode, face, seed, cfg)
                          for face in EVAL_FACES for seed in few]
    faces = " + ".join(f"{f} seeds {EVAL_SEED0}-{EVAL_SEED0 + trials - 1}" for f in EVAL_FACES)
    log(f"evaluation set: {faces} ({EVAL_FACES[0]} unseen in tuning; {EVAL_FACES[1]} with unseen seeds)")
    rows: dict[str, dict[str, Any]] = {}
    log(f"{'attack type':14s} {'trials':>6s} {'accepted':>8s} {'APCER':>7s}  results")
    for mode in ATTACKS:
        ts = per_mode[mode]
        acc = sum(t.verdict.live for t in ts)
        rows[mode] = {"trials": len(ts), "accepted": acc, "apcer": acc / len(ts),
                      "results": dict(Counter(f"{t.verdict.result}/{t.verdict.reason}" for t in ts))}
        log(f"{mode:14s} {len(ts):6d} {acc:8d} {100 * acc / len(ts):6.1f}%  {_fmt(rows[mode]['results'])}")
    worst = max(rows, key=lambda m: rows[m]["apcer"])
    log(f"worst-case APCER: {100 * rows[worst]['apcer']:.1f}% ({worst}), "
        f"{sum(r['trials'] for r in rows.values())} attack trials in all")
    gen = per_mode["genuine"]
    rej = sum(not t.verdict.live for t in gen)
    log(f"{'bona fide':14s} {'trials':>6s} {'rejected':>8s} {'BPCER':>7s}  results")
    log(f"{'genuine':14s} {len(gen):6d} {rej:8d} {100 * rej / len(gen):6.1f}%  "
        f"{_fmt(Counter(t.verdict.result for t in gen))}")
    unr = per_mode["unresponsive"]
    flagged = sum(t.verdict.result == "spoof" for t in unr)
    log(f"non-responding people called spoof: {flagged}/{len(unr)} (they should time out, not be accused)")
    cond: dict[str, dict[str, Any]] = {}
    for mode in CONDITIONS:
        ts = per_mode[mode]
        cond[mode] = {"trials": len(ts), "accepted": sum(t.verdict.live for t in ts),
                      "results": dict(Counter(t.verdict.result for t in ts))}
        log(f"condition {mode:9s} {len(ts):3d} trials, accepted {cond[mode]['accepted']}: {_fmt(cond[mode]['results'])}")
    return {"attacks": rows, "worst_apcer": rows[worst]["apcer"], "worst_attack": worst,
            "bpcer": rej / len(gen), "bona_fide_trials": len(gen),
            "unresponsive_called_spoof": flagged, "unresponsive_trials": len(unr), "conditions": cond}


def _fmt(counts: dict[str, int] | Counter) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(counts.items()))
