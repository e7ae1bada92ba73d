"""Face mesh: 468 landmarks from a rotated 192x192 crop, and the crop region (ROI) arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.liveness.detector import Detection
from kiosk.liveness.runtime import TfliteModel

INPUT = 192
ROI_SCALE = 1.5
# Landmark indices used across the pipeline (subject's right = image left for an unmirrored camera).
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
UPPER_LIP, LOWER_LIP, MOUTH_RIGHT, MOUTH_LEFT = 13, 14, 78, 308
NOSE_TIP, FOREHEAD, CHIN = 1, 10, 152


@dataclass(frozen=True)
class Roi:
    """A square, rotated crop region in frame pixels; angle (radians) is the eye line's slope."""

    cx: float
    cy: float
    size: float
    angle: float

    def crop_to_frame(self) -> np.ndarray:
        """2x3 affine matrix from crop pixels (0..192) to frame pixels."""
        a = self.size / INPUT
        c, s = math.cos(self.angle) * a, math.sin(self.angle) * a
        half = INPUT / 2
        return np.array([[c, -s, self.cx - half * c + half * s],
                         [s, c, self.cy - half * s - half * c]], np.float32)

    @classmethod
    def from_detection(cls, det: Detection) -> Roi:
        (rx, ry), (lx, ly) = det.keypoints[0], det.keypoints[1]
        x0, y0, x1, y1 = det.box
        return cls((x0 + x1) / 2, (y0 + y1) / 2, ROI_SCALE * max(x1 - x0, y1 - y0),
                   math.atan2(ly - ry, lx - rx))

    @classmethod
    def from_landmarks(cls, pts: np.ndarray) -> Roi:
        """The region for the next frame: landmarks' box in the eye-levelled frame, scaled 1.5x."""
        (rx, ry), (lx, ly) = pts[RIGHT_EYE_OUTER, :2], pts[LEFT_EYE_OUTER, :2]
        angle = math.atan2(ly - ry, lx - rx)
        c, s = math.cos(angle), math.sin(angle)
        xy = pts[:, :2]
        u = xy[:, 0] * c + xy[:, 1] * s  # rotate by -angle
        v = -xy[:, 0] * s + xy[:, 1] * c
        u0, u1, v0, v1 = u.min(), u.max(), v.min(), v.max()
        uc, vc = (u0 + u1) / 2, (v0 + v1) / 2
        return cls(float(uc * c - vc * s), float(uc * s + vc * c),
                   float(ROI_SCALE * max(u1 - u0, v1 - v0)), angle)


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # (468, 3) frame pixels; z in the same scale, smaller = nearer
    presence: float  # face-presence probability
    crop: np.ndarray  # (192, 192, 3) uint8 RGB, eye-levelled; for sharpness, exposure, pictures
    roi: Roi


_TO_UNIT = np.float32(1.0 / 255.0)


class Landmarker:
    def __init__(self, model: TfliteModel) -> None:
        self.model = model
        # One input tensor reused by every frame (the engine serves one thread at a time): the
        # [0,1] scaling writes into it instead of allocating two float copies per frame.
        self._input = np.empty((1, INPUT, INPUT, 3), np.float32)

    def run(self, rgb: np.ndarray, roi: Roi) -> Mesh:
        m = roi.crop_to_frame()
        crop = cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT)
        # float32(x) * float32(1/255): the same values as crop.astype(np.float32) * (1 / 255).
        np.multiply(crop, _TO_UNIT, out=self._input[0], casting="unsafe")
        out = self.model.invoke(self._input)
        raw = out["conv2d_21"].reshape(468, 3)
        logit = float(np.clip(out["conv2d_31"].reshape(()), -100.0, 100.0))
        pts = np.empty_like(raw)
        pts[:, :2] = raw[:, :2] @ m[:, :2].T + m[:, 2]
        pts[:, 2] = raw[:, 2] * (roi.size / INPUT)
        return Mesh(pts, 1.0 / (1.0 + math.exp(-logit)), crop, roi)
