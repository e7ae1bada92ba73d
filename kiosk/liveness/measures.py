"""Per-frame measures of the tracked face: mouth ratio, head pose, size, position, sharpness,
exposure, and eye opening (blinks are the non-rigid motion a held photo lacks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.liveness import landmarks as L
from kiosk.liveness.landmarks import Mesh

PITCH_OFFSET_DEG = 8.0  # forehead-to-chin axis of a frontal face leans back about this much


@dataclass(frozen=True)
class FaceMeasures:
    t: float
    mouth_ratio: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    face_frac: float  # face width (cheek to cheek) / frame width
    centre_dx: float  # face centre offset from the frame centre, fraction of the width
    centre_dy: float  # ... and of the height
    eye_dist: float  # pixels between the outer eye corners
    sharpness: float  # variance of the Laplacian of the face crop
    luma: float  # mean face brightness 0-255
    eye_ratio: float  # mean eyelid gap / eye width (drops in a blink)
    box: tuple[float, float, float, float]  # face box in frame pixels, for the screen's overlay


# (from, to) landmark pairs: right eyelids, right eye width, left eyelids, left eye width, inner
# lips, mouth corners, cheek to cheek.
_PAIRS = (np.array([159, 33, 386, 263, L.UPPER_LIP, L.MOUTH_RIGHT, 234]),
          np.array([145, 133, 374, 362, L.LOWER_LIP, L.MOUTH_LEFT, 454]))


def measure(mesh: Mesh, frame_shape: tuple[int, ...], t: float) -> FaceMeasures:
    p = mesh.points
    h, w = frame_shape[:2]
    ex = p[L.LEFT_EYE_OUTER] - p[L.RIGHT_EYE_OUTER]
    ey = p[L.CHIN] - p[L.FOREHEAD]
    yaw = math.degrees(math.atan2(ex[2], ex[0]))
    pitch = math.degrees(math.atan2(ey[2], ey[1])) - PITCH_OFFSET_DEG
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    (x0, y0), (x1, y1) = p[:, :2].min(axis=0), p[:, :2].max(axis=0)
    gray = cv2.cvtColor(mesh.crop[40:152, 40:152], cv2.COLOR_RGB2GRAY)
    # All seven distances in one call (per-pair numpy calls were a visible share of a frame);
    # element-wise hypot of the same float32 differences, so the same values as one by one.
    diff = p[_PAIRS[0], :2] - p[_PAIRS[1], :2]
    lid_r, eye_w_r, lid_l, eye_w_l, lips, mouth_w, cheeks = np.hypot(diff[:, 0], diff[:, 1]).tolist()
    eye_r = lid_r / max(eye_w_r, 1e-6)
    eye_l = lid_l / max(eye_w_l, 1e-6)
    return FaceMeasures(
        t=t,
        mouth_ratio=lips / max(mouth_w, 1e-6),
        yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll,
        face_frac=cheeks / w,
        centre_dx=float((x0 + x1) / 2 / w - 0.5), centre_dy=float((y0 + y1) / 2 / h - 0.5),
        eye_dist=float(np.hypot(ex[0], ex[1])),
        sharpness=float(cv2.Laplacian(gray, cv2.CV_32F).var()),
        luma=float(gray.mean()),
        eye_ratio=(eye_r + eye_l) / 2,
        box=(float(x0), float(y0), float(x1), float(y1)))


def face_descriptor(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A 32x24 grey patch of eyes and nose, aligned on the eye corners, zero-mean and unit-norm;
    the dot product of two descriptors compares two pictures (mouth left out on purpose)."""
    right, left = points[L.RIGHT_EYE_OUTER, :2], points[L.LEFT_EYE_OUTER, :2]
    src = np.float32([right, left, left + (left - right)[::-1] * (-1, 1)])  # third point: eye line turned 90 degrees
    dst = np.float32([[4, 6], [28, 6], [28, 30]])
    m = cv2.getAffineTransform(src, dst)
    patch = cv2.warpAffine(rgb, m, (32, 24), flags=cv2.INTER_AREA)
    g = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY).astype(np.float32).ravel()
    g -= g.mean()
    return g / max(float(np.linalg.norm(g)), 1e-6)
