"""Track-then-detect, as MediaPipe does: the detector runs only without a track (and, while
tracking, every `detect_interval_s` to notice a second face); otherwise the landmark model runs
on the region predicted from the previous frame's landmarks.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from kiosk.liveness.detector import Detection, FaceDetector
from kiosk.liveness.landmarks import Landmarker, Mesh, Roi
from kiosk.liveness.models import locate
from kiosk.liveness.runtime import TfliteModel
from kiosk.liveness.settings import LivenessSettings

log = logging.getLogger(__name__)


class FaceEngine:
    """Both models, loaded once and reused by every session (not by two threads at once)."""

    def __init__(self, detector: FaceDetector, landmarker: Landmarker) -> None:
        self.detector, self.landmarker = detector, landmarker

    @classmethod
    def load(cls, settings: LivenessSettings | None = None) -> FaceEngine:
        s = settings or LivenessSettings()
        files = locate(s.model_dir or None)
        return cls(FaceDetector(TfliteModel(files.detector, s.threads), s.detect_score, s.nms_iou),
                   Landmarker(TfliteModel(files.landmarks, s.threads)))

    def __repr__(self) -> str:
        return f"<FaceEngine {self.detector.model!r} {self.landmarker.model!r}>"


@dataclass(frozen=True)
class Observation:
    mesh: Mesh | None  # the tracked face, or None
    faces: int | None  # faces the detector saw, when it ran this frame
    track_id: int  # 0 without a track; a new number each time a track starts
    detected: bool  # the detector ran this frame
    new_track: bool


def _largest(dets: list[Detection]) -> Detection:
    return max(dets, key=lambda d: d.width * d.height)


class FaceTracker:
    def __init__(self, engine: FaceEngine, settings: LivenessSettings) -> None:
        self.engine, self.s = engine, settings
        self.roi: Roi | None = None
        self.track_id = 0
        self._tracks = 0
        self._last_detect = -math.inf

    def reset(self) -> None:
        self.roi = None
        self.track_id = 0

    def _detect(self, rgb: np.ndarray, t: float) -> list[Detection]:
        self._last_detect = t
        return self.engine.detector.detect(rgb)

    def update(self, rgb: np.ndarray, t: float) -> Observation:
        faces: int | None = None
        detected = new = False
        if self.roi is None or t - self._last_detect >= self.s.detect_interval_s:
            dets = self._detect(rgb, t)
            detected, faces = True, len(dets)
            if self.roi is None:
                if not dets:
                    return Observation(None, 0, 0, True, False)
                self.roi, new = Roi.from_detection(_largest(dets)), True
        assert self.roi is not None
        mesh = self.engine.landmarker.run(rgb, self.roi)
        if mesh.presence < self.s.presence_score:
            self.reset()
            if detected:  # the fresh detection did not hold a face either
                return Observation(None, faces, 0, True, False)
            dets = self._detect(rgb, t)  # the track broke: look again in this same frame
            detected, faces = True, len(dets)
            if not dets:
                return Observation(None, 0, 0, True, False)
            mesh = self.engine.landmarker.run(rgb, Roi.from_detection(_largest(dets)))
            if mesh.presence < self.s.presence_score:
                return Observation(None, faces, 0, True, False)
            new = True
        if new:
            self._tracks += 1
            self.track_id = self._tracks
            log.debug("event=track_started track=%d", self.track_id)
        self.roi = mesh.next_roi()
        return Observation(mesh, faces, self.track_id, detected, new)
