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
_WINDOW_PAD = 2  # bilinear sampling reads the pixel after floor(x): keep a margin past the corners


def source_window(m: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the part of a width x height frame that the crop matrix `m` (crop pixels
    to frame pixels) samples, with a margin, clipped to the frame; empty when the crop misses it."""
    (a, b, c), (d, e, f) = m.tolist()
    xs = (c, a * INPUT + c, b * INPUT + c, a * INPUT + b * INPUT + c)
    ys = (f, d * INPUT + f, e * INPUT + f, d * INPUT + e * INPUT + f)
    return (max(math.floor(min(xs)) - _WINDOW_PAD, 0), max(math.floor(min(ys)) - _WINDOW_PAD, 0),
            min(math.ceil(max(xs)) + _WINDOW_PAD, width), min(math.ceil(max(ys)) + _WINDOW_PAD, height))


class Landmarker:
    def __init__(self, model: TfliteModel) -> None:
        self.model = model
        self._window = np.empty(0, np.uint8)  # scratch for the copied source window, grown on demand

    def _warp(self, rgb: np.ndarray, m: np.ndarray) -> np.ndarray:
        """The 192x192 crop: the same pixels as warping the whole frame with `m`, but from a
        compact copy of just the region the warp samples. The rotated warp reads the frame's rows
        in a scattered order; a frame fresh from the camera is not in cache, and copying the window
        row by row (a sequential read) first roughly halves the warp's time on such frames."""
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = source_window(m, w, h)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        if x1 <= x0 or y1 <= y0:  # nothing of the frame in the crop: all border
            return cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=flags, borderMode=cv2.BORDER_CONSTANT)
        shape = (y1 - y0, x1 - x0, *rgb.shape[2:])
        n = math.prod(shape)
        if self._window.size < n or self._window.dtype != rgb.dtype:
            self._window = np.empty(n, rgb.dtype)
        window = self._window[:n].reshape(shape)
        np.copyto(window, rgb[y0:y1, x0:x1])
        shifted = m.copy()  # the same map, from window pixels: an integer shift (exact in float32)
        shifted[0, 2] -= x0
        shifted[1, 2] -= y0
        # Pixels of the frame outside the window are never sampled, and beyond the frame's edge the
        # window's edge is the frame's edge, so the constant border falls on the same pixels.
        return cv2.warpAffine(window, shifted, (INPUT, INPUT), flags=flags, borderMode=cv2.BORDER_CONSTANT)

    def run(self, rgb: np.ndarray, roi: Roi) -> Mesh:
        m = roi.crop_to_frame()
        crop = self._warp(rgb, m)

        def fill(tensor: np.ndarray) -> None:
            # float32(x) * float32(1/255), written straight into the interpreter's input buffer:
            # the same values as crop.astype(np.float32) * (1 / 255) passed to set_tensor.
            np.multiply(crop, _TO_UNIT, out=tensor, casting="unsafe")

        out = self.model.invoke_filled(fill)
        raw = out["conv2d_21"].reshape(468, 3)
        logit = float(np.clip(out["conv2d_31"].reshape(()), -100.0, 100.0))
        pts = np.empty_like(raw)
        pts[:, :2] = raw[:, :2] @ m[:, :2].T + m[:, 2]
        pts[:, 2] = raw[:, 2] * (roi.size / INPUT)
        return Mesh(pts, 1.0 / (1.0 + math.exp(-logit)), crop, roi)
