"""The four pictures: the sharpest frontal closed-mouth frame before the first cue, the widest
frontal frame of the first opening, the sharpest closed frame between the openings, and the
widest frame of the last opening. Frames are kept by reference and JPEG-encoded at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SLOTS = ("closed", "open", "closed", "open")


@dataclass(frozen=True)
class Candidate:
    rgb: np.ndarray
    t: float
    score: float
    track_id: int
    descriptor: np.ndarray
    sharpness: float
    mouth_ratio: float


class CaptureSet:
    def __init__(self) -> None:
        self.best: list[Candidate | None] = [None] * len(SLOTS)
        self.final = [False] * len(SLOTS)

    def wants(self, slot: int, score: float) -> bool:
        """Whether offer() would keep a candidate with this score (so that a candidate's costlier
        parts, its descriptor, are computed only for frames that will be kept)."""
        if self.final[slot]:
            return False
        cur = self.best[slot]
        return cur is None or score > cur.score

    def offer(self, slot: int, cand: Candidate) -> None:
        if self.wants(slot, cand.score):
            self.best[slot] = cand

    def finalise(self, slot: int) -> bool:
        """Close a slot; True when it holds a picture."""
        self.final[slot] = True
        return self.best[slot] is not None

    @property
    def complete(self) -> bool:
        return all(self.best)

    def candidates(self) -> list[Candidate]:
        return [c for c in self.best if c is not None]

    def jpegs(self, quality: int) -> tuple[bytes, ...]:
        out = []
        for c in self.candidates():
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(c.rgb, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                out.append(buf.tobytes())
        return tuple(out)


def slot_for(phase_open: bool, openings_done: int, started: bool, total: int) -> int | None:
    """Which slot a frame may fill given the challenge's progress (None: no slot now)."""
    if not started:
        return 0 if not phase_open else None
    if phase_open:
        if openings_done == 0:
            return 1
        if openings_done == total - 1:
            return 3
        return None
    if 1 <= openings_done <= total - 1:
        return 2
    return None
