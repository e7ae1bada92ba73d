"""`kiosk liveness check` (one headless check on any camera) and `kiosk liveness eval`.

check: 0 live, 1 not live (the verdict line says why), 2 models missing or a bad --camera spec,
3 the camera cannot be opened. eval: 0 no attack and no bad condition was accepted, 1 some were.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

SYNTHETIC_BANNER = ("SYNTHETIC-ONLY FIGURES: synthetic camera with packaged photos (grace_hopper, astronaut); "
                    "not a certification result and not a measure on real people.")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("liveness", help="face liveness: a headless check, synthetic evaluation")
    sub = p.add_subparsers(dest="liveness_command", metavar="SUBCOMMAND", required=True)
    chk = sub.add_parser("check", help="run one liveness check and print the verdict; exit 0 live, 1 not")
    chk.add_argument("--camera", required=True,
                     help="picamera2 | opencv:N | file:PATH | synthetic[:FACE][,mode=M,seed=N,realtime=0]")
    chk.add_argument("--json", action="store_true", help="print events and the verdict as JSON lines")
    chk.add_argument("--attempts", type=int, default=1)
    chk.add_argument("--config", type=Path)
    chk.set_defaults(handler=check_command)
    ev = sub.add_parser("eval", help="APCER per attack type and BPCER over synthetic trials; "
                        "exit 1 when an attack or a bad condition was accepted")
    ev.add_argument("--trials", type=int, default=10, help="trials per mode and face (default 10)")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--config", type=Path)
    ev.set_defaults(handler=eval_command)


def _setup(path: Path | None) -> tuple[Any, Any, Any]:
    from kiosk import config
    from kiosk.liveness import FaceEngine, LivenessSettings

    cfg = config.load(path)
    settings = LivenessSettings.from_config(cfg)
    return cfg, settings, FaceEngine.load(settings)


def check_command(args: argparse.Namespace) -> int:
    from kiosk.hw.registry import open_adapter, parse_spec
    from kiosk.liveness import LivenessSession, ModelError

    try:
        parse_spec("camera", args.camera)
    except ValueError as exc:
        print(f"kiosk liveness: --camera: {exc}", file=sys.stderr)
        return 2
    try:
        cfg, settings, engine = _setup(args.config)
    except ModelError as exc:
        print(f"kiosk liveness: {exc}", file=sys.stderr)
        return 2
    settings = settings.with_(attempts=args.attempts)
    camera = open_adapter("camera", args.camera, cfg)
    if not hasattr(camera, "frames"):
        print(f"kiosk liveness: camera unavailable: {camera.health().reason} {camera.health().detail}",
              file=sys.stderr)
        return 3
    session = LivenessSession(engine, settings)
    show_cue = getattr(camera, "cue", None)  # the synthetic subject sees what the citizen sees
    t_last, t0 = 0.0, None
    try:
        for frame in camera.frames():
            t0 = frame.timestamp if t0 is None else t0
            t_last = frame.timestamp
            for ev in session.feed(frame):
                if ev.kind == "cue" and show_cue:
                    show_cue(ev)
                if ev.kind == "finished":
                    continue
                if args.json:
                    print(json.dumps(ev.to_dict()), flush=True)
                else:
                    print(f"+{ev.t - t0:6.2f}s {ev.kind:15s} " + " ".join(
                        f"{k}={v}" for k, v in ev.to_dict().items() if k not in ("t", "kind")), flush=True)
            if session.done:
                break
    finally:
        camera.close()
    verdict = session.verdict or session.cancel(t_last)
    if args.json:
        print(json.dumps({"verdict": verdict.to_dict()}))
    else:
        print(f"result={verdict.result} reason={verdict.reason or '-'} "
              f"checks={','.join(verdict.checks_fired) or '-'} openings={verdict.openings} "
              f"captures={len(verdict.captures)} attempts={verdict.attempts}")
    return 0 if verdict.live else 1


def eval_command(args: argparse.Namespace) -> int:
    from kiosk.liveness import ModelError
    from kiosk.liveness.evaluate import evaluate, tune

    try:
        cfg, settings, engine = _setup(args.config)
    except ModelError as exc:
        print(f"kiosk liveness: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("kiosk.liveness").setLevel(logging.ERROR)  # hundreds of trials: no per-check lines
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    log(SYNTHETIC_BANNER)
    tuned, tuning = tune(engine, settings, args.trials, log, cfg)
    result = evaluate(engine, tuned, args.trials, log, cfg)
    if args.json:
        print(json.dumps({"label": "synthetic-only", "tuning": tuning, "evaluation": result}, indent=2))
    accepted = sum(r["accepted"] for r in result["attacks"].values()) + \
        sum(c["accepted"] for c in result["conditions"].values())
    return 1 if accepted else 0
