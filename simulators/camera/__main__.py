"""`python -m simulators.camera`: render the synthetic subject to a video file or a folder of PNGs,
e.g. to play back later through `file:PATH` (a replay attack) or to look at an attack mode."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulators.camera import MODES, SyntheticCamera


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.camera",
                                description="Synthetic camera: a packaged face photo whose mouth opens "
                                            "when cued, and presentation-attack modes.")
    p.add_argument("--mode", choices=MODES, default="genuine",
                   help="genuine (opens the mouth when cued), unresponsive, still (photo held up), "
                        "replay (opens on its own clock), noface, twofaces, dark, swap (face changes), "
                        "leave (steps out of view for a moment after the first opening)")
    p.add_argument("--face", default="grace_hopper",
                   help="grace_hopper (matplotlib), astronaut (scikit-image) or a frontal photo file")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cues", default="2,6,10",
                   help="comma-separated times (s) at which to show the subject the 'open your mouth' cue")
    p.add_argument("--out", type=Path, required=True,
                   help="a .avi/.mp4 file, or a folder that receives frame_00000.png ...")
    args = p.parse_args(argv)

    import cv2

    cues = sorted(float(c) for c in args.cues.split(",") if c.strip())
    cam = SyntheticCamera(mode=args.mode, face=args.face, fps=args.fps, seed=args.seed)
    writer = None
    if args.out.suffix.lower() in (".avi", ".mp4"):
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if args.out.suffix.lower() == ".avi" else "mp4v"))
        writer = cv2.VideoWriter(str(args.out), fourcc, args.fps, cam.size)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
    total = int(args.seconds * args.fps)
    for n, frame in enumerate(cam.frames()):
        if n >= total:
            break
        while cues and frame.timestamp - cam.start >= cues[0]:
            cues.pop(0)
            cam.cue("cue")
        bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
        if writer is not None:
            writer.write(bgr)
        else:
            cv2.imwrite(str(args.out / f"frame_{n:05d}.png"), bgr)
    if writer is not None:
        writer.release()
    print(f"wrote {total} frames of {cam!r} to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
