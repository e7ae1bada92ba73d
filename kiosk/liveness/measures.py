"""Per-frame measures of the tracked face: mouth ratio, head pose, size, position, sharpness,
exposure, and eye opening (blinks are the non-rigid motion a held photo lacks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.liveness import landmarks as L
from kiosk.liveness.landmarks import Mesh, crop_stats, landmark_bounds, pair_diffs
from kiosk.liveness.landmarks import sharpness as sharpness  # re-exported: it was defined here

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


def measure(mesh: Mesh, frame_shape: tuple[int, ...], t: float) -> FaceMeasures:
    # Every numpy call here costs microseconds of overhead whatever its size, and this runs on
    # every frame: the nine landmark differences (L.PAIRS) are one float32 subtraction, taken once
    # per mesh by Landmarker.run, the eight distances one hypot, and all of them come back to Python
    # in one tolist() each. The arithmetic is the same float32 arithmetic as taking the pairs one
    # by one, so the same values.
    p = mesh.points
    h, w = frame_shape[:2]
    diff, rows = mesh.diffs or pair_diffs(p)
    dist = np.hypot(diff[:8, 0], diff[:8, 1]).tolist()
    lid_r, eye_w_r, lid_l, eye_w_l, lips, mouth_w, cheeks, eye_dist = dist
    (ex0, ex1, ex2), (_, ey1, ey2) = rows[L.EYE_LINE], rows[L.EYE_LINE + 1]
    yaw = math.degrees(math.atan2(ex2, ex0))
    pitch = math.degrees(math.atan2(ey2, ey1)) - PITCH_OFFSET_DEG
    roll = math.degrees(math.atan2(ex1, ex0))
    # the box: min/max of x and y (landmark_bounds() once per mesh), as Python floats holding the
    # float32 values; the centre in float32 arithmetic as before
    (x0, y0, _, _), (x1, y1, _, _) = (mesh.bounds or landmark_bounds(p))[1].tolist()
    cx, cy = (np.float32(x0) + np.float32(x1)) / 2, (np.float32(y0) + np.float32(y1)) / 2
    sharp, luma = mesh.stats or crop_stats(mesh.crop)  # Landmarker.run takes them before its invoke
    eye_r = lid_r / max(eye_w_r, 1e-6)
    eye_l = lid_l / max(eye_w_l, 1e-6)
    return FaceMeasures(
        t=t,
        mouth_ratio=lips / max(mouth_w, 1e-6),
        yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll,
        face_frac=cheeks / w,
        centre_dx=float(cx / w - 0.5), centre_dy=float(cy / h - 0.5),
        eye_dist=eye_dist,
        sharpness=sharp,
        luma=luma,
        eye_ratio=(eye_r + eye_l) / 2,
        box=(x0, y0, x1, y1))


def face_descriptor(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A 32x24 grey patch of eyes and nose, aligned on the eye corners, zero-mean and unit-norm;
    the dot product of two descriptors compares two pictures (mouth left out on purpose)."""
    right, left = points[L.RIGHT_EYE_OUTER, :2], points[L.LEFT_EYE_OUTER, :2]
    # third point: the eye line turned 90 degrees
    src = np.array([right, left, left + (left - right)[::-1] * (-1, 1)], np.float32)
    dst = np.array([[4, 6], [28, 6], [28, 30]], np.float32)
    m = cv2.getAffineTransform(src, dst)
    patch = cv2.warpAffine(rgb, m, (32, 24), flags=cv2.INTER_AREA)
    g = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY).astype(np.float32).ravel()
    g -= g.mean()
    return g / max(float(np.linalg.norm(g)), 1e-6)
