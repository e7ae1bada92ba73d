"""Presentation-attack checks, each a plain function over what one attempt recorded.

- still_photo: no real mouth motion and no eyelid motion either: the face only ever moved as a
  rigid whole (a blink is the non-rigid motion even a citizen who does not respond shows);
- replay: openings that did not follow a cue (a recording opens its mouth on its own clock);
- face_changed: the four pictures do not show the same face (eyes-and-nose patches differ);
- track_broken: the face was lost or replaced between the first and the last picture
  (raised by the session, which then restarts the challenge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kiosk.liveness.captures import Candidate
from kiosk.liveness.settings import LivenessSettings


@dataclass
class AttemptRecord:
    mouth: list[float] = field(default_factory=list)
    eyes: list[float] = field(default_factory=list)
    frames: int = 0
    blockers: dict[str, int] = field(default_factory=dict)


def still_stats(rec: AttemptRecord) -> tuple[float, float] | None:
    """(mouth ratio range p2-p98, deepest eyelid dip) over the attempt, or None with too little face."""
    if len(rec.mouth) < 10 or len(rec.mouth) < 0.5 * rec.frames:
        return None
    lo, hi = np.percentile(rec.mouth, [2, 98])
    eyes = np.asarray(rec.eyes)
    return float(hi - lo), float(1.0 - eyes.min() / max(float(np.median(eyes)), 1e-6))


def still_photo(rec: AttemptRecord, s: LivenessSettings) -> str | None:
    """Detail string when the face never moved other than rigidly; None otherwise."""
    stats = still_stats(rec)
    if stats is None:
        return None
    mouth_range, dip = stats
    if mouth_range < s.still_mouth_range and dip < s.still_eye_dip:
        return f"mouth_range={mouth_range:.3f} eye_dip={dip:.3f} frames={len(rec.mouth)}"
    return None


def replay(unsolicited: int, s: LivenessSettings) -> str | None:
    if unsolicited >= s.replay_unsolicited:
        return f"unsolicited_openings={unsolicited}"
    return None


def min_ncc(pictures: list[Candidate]) -> tuple[float, tuple[int, int]]:
    """The least similar pair of pictures (eyes-and-nose patch correlation)."""
    worst, pair = 1.0, (0, 0)
    for i in range(len(pictures)):
        for j in range(i + 1, len(pictures)):
            ncc = float(pictures[i].descriptor @ pictures[j].descriptor)
            if ncc < worst:
                worst, pair = ncc, (i, j)
    return worst, pair


def face_changed(pictures: list[Candidate], s: LivenessSettings) -> str | None:
    worst, pair = min_ncc(pictures)
    tracks = {p.track_id for p in pictures}
    if worst < s.face_change_ncc or len(tracks) > 1:
        return f"min_ncc={worst:.2f} pictures={pair[0]}-{pair[1]} tracks={len(tracks)}"
    return None
