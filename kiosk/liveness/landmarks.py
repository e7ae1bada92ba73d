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
# (from, to) landmark pairs whose differences measure() reads: right eyelids, right eye width, left
# eyelids, left eye width, inner lips, mouth corners, cheek to cheek, eye line (outer corners),
# forehead to chin. The eye line is also the one landmark_bounds() levels the face by.
PAIRS = (np.array([159, 33, 386, 263, UPPER_LIP, MOUTH_RIGHT, 234, LEFT_EYE_OUTER, CHIN]),
         np.array([145, 133, 374, 362, LOWER_LIP, MOUTH_LEFT, 454, RIGHT_EYE_OUTER, FOREHEAD]))
EYE_LINE = 7  # PAIRS' row of the eye line
_PAIR_ROWS = np.concatenate(PAIRS)  # both ends of every pair, for one gather


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
        # from a flat list: numpy builds it in a third of the time it takes to read nested lists
        return np.array([c, -s, self.cx - half * c + half * s,
                         s, c, self.cy - half * s - half * c], np.float32).reshape(2, 3)

    @classmethod
    def from_detection(cls, det: Detection) -> Roi:
        (rx, ry), (lx, ly) = det.keypoints[0], det.keypoints[1]
        x0, y0, x1, y1 = det.box
        return cls((x0 + x1) / 2, (y0 + y1) / 2, ROI_SCALE * max(x1 - x0, y1 - y0),
                   math.atan2(ly - ry, lx - rx))

    @classmethod
    def from_landmarks(cls, pts: np.ndarray) -> Roi:
        """The region for the next frame: landmarks' box in the eye-levelled frame, scaled 1.5x."""
        return cls.from_bounds(*landmark_bounds(pts))

    @classmethod
    def from_bounds(cls, angle: float, bounds: np.ndarray) -> Roi:
        """from_landmarks() given landmark_bounds() of the points."""
        c, s = math.cos(angle), math.sin(angle)
        # float32 scalars, so the same float32 arithmetic as ever: from tolist(), whose Python
        # floats hold the float32 values exactly, in a fraction of the time of unpacking the array
        (_, _, u0, v0), (_, _, u1, v1) = bounds.tolist()
        u0, v0, u1, v1 = np.float32(u0), np.float32(v0), np.float32(u1), np.float32(v1)
        uc, vc = (u0 + u1) / 2, (v0 + v1) / 2
        return cls(float(uc * c - vc * s), float(uc * s + vc * c),
                   float(ROI_SCALE * max(u1 - u0, v1 - v0)), angle)


def landmark_bounds(pts: np.ndarray, eye_line: list[float] | None = None) -> tuple[float, np.ndarray]:
    """(eye-line angle, bounds): bounds is float32 [[x0, y0, u0, v0], [x1, y1, u1, v1]], the
    minima and maxima of the points' x and y and of u, v, the points rotated by -angle.

    One pass for both boxes (the frame box measure() reports and the eye-levelled one the next
    region is made from): with u = x*c + y*s, v = x*(-s) + y*c and x = x*1 + y*0, each product
    and each sum is the float32 operation the column-by-column arithmetic did, so the values are
    the same; in a few numpy calls instead of a dozen (each costs microseconds after the model).
    `eye_line`: the float32 difference of the outer eye corners' x and y, when already taken (the
    EYE_LINE row of pair_diffs(), as Python floats)."""
    if eye_line is None:
        (dx, dy), = (pts[LEFT_EYE_OUTER:LEFT_EYE_OUTER + 1, :2] - pts[RIGHT_EYE_OUTER:RIGHT_EYE_OUTER + 1, :2]).tolist()
    else:
        dx, dy = eye_line[:2]
    angle = math.atan2(dy, dx)
    c, s = math.cos(angle), math.sin(angle)
    weights = np.array([1.0, 0.0, 0.0, 1.0, c, s, -s, c], np.float32).reshape(4, 2, 1)
    # (4, 2, 468), on contiguous rows: reductions along them (no copy when the points are already
    # the transpose of contiguous x, y, z rows, as Landmarker.run makes them)
    terms = weights * np.ascontiguousarray(pts[:, :2].T)
    rows = terms[:, 0] + terms[:, 1]  # (4, 468): x, y, u, v
    return angle, np.array([rows.min(axis=1), rows.max(axis=1)])


def pair_diffs(pts: np.ndarray) -> tuple[np.ndarray, list[list[float]]]:
    """The PAIRS' differences, float32 (9, 3), and the same as Python floats (from one tolist()).
    Both ends of every pair in one gather: the same float32 subtraction as pts[PAIRS[0]] -
    pts[PAIRS[1]]."""
    ends = pts[_PAIR_ROWS]
    n = len(PAIRS[0])
    diffs = ends[:n] - ends[n:]
    return diffs, diffs.tolist()


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # (468, 3) frame pixels; z in the same scale, smaller = nearer
    presence: float  # face-presence probability
    crop: np.ndarray  # (192, 192, 3) uint8 RGB, eye-levelled; for sharpness, exposure, pictures
    roi: Roi
    bounds: tuple[float, np.ndarray] | None = None  # landmark_bounds(points), when computed
    diffs: tuple[np.ndarray, list[list[float]]] | None = None  # pair_diffs(points), when computed
    stats: tuple[float, float] | None = None  # crop_stats(crop), when computed

    def next_roi(self) -> Roi:
        """Roi.from_landmarks(points)."""
        return Roi.from_bounds(*(self.bounds or landmark_bounds(self.points)))


def points_affine(m: np.ndarray, size: float) -> np.ndarray:
    """crop_points_to_frame()'s map for the crop matrix `m` and the region's side, (3, 4) float32:
    [[m00 m01 0 m02] [m10 m11 0 m12] [0 0 size/192 0]]."""
    (m00, m01, m02), (m10, m11, m12) = m.tolist()
    return np.array([m00, m01, 0.0, m02, m10, m11, 0.0, m12, 0.0, 0.0, size / INPUT, 0.0],
                    np.float32).reshape(3, 4)


def crop_points_to_frame(raw: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The model's 468 x (x, y, z) crop-pixel outputs (any shape of 1404 float32) in frame pixels,
    (468, 3), given points_affine() of the crop matrix m and the region's side:
    x' = x*m00 + y*m01 + m02, y' = x*m10 + y*m11 + m12, z' = z * size / 192.

    One product: [[m00 m01 0] [m10 m11 0] [0 0 k]] @ [x y z]^T + [m02 m12 0]^T; the zero terms add
    exact zeros, so these are the float32 results of the separate product, sum and scaling. It is
    computed as (3, 468), coordinate by coordinate: the same products and sums as the
    (468, 3) @ (3, 3) form it replaced (equal on every frame and on random matrices, tested), but
    the offset is added along contiguous rows instead of broadcast over rows of three (half the
    time of both), and the x and y rows are the contiguous rows landmark_bounds() reduces. The
    result is the transpose of that array: a (468, 3) view."""
    by_coord = affine[:, :3] @ raw.reshape(468, 3).T
    by_coord += affine[:, 3:]
    return by_coord.T


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a grey image, as np.var of the CV_32F Laplacian was. The 3x3
    Laplacian of 8-bit pixels is an integer within +-1020, so CV_16S holds the same values in half
    the memory; cv2.meanStdDev accumulates in double in one pass: within float rounding of np.var's
    float32 result, at a fraction of its time."""
    _, std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_16S))
    return float(std[0, 0]) ** 2


def crop_stats(crop: np.ndarray) -> tuple[float, float]:
    """(sharpness, luma): the Laplacian variance and the mean brightness of the crop's central
    112x112 in grey, the face without its surroundings; measure() reports them."""
    gray = cv2.cvtColor(crop[40:152, 40:152], cv2.COLOR_RGB2GRAY)
    return sharpness(gray), cv2.mean(gray)[0]


_TO_UNIT = np.float32(1.0 / 255.0)
_WINDOW_PAD = 2  # bilinear sampling reads the pixel after floor(x): keep a margin past the corners


def source_window(m: list[list[float]], width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the part of a width x height frame that the crop matrix `m` (crop pixels
    to frame pixels, as nested lists) samples, with a margin, clipped to the frame; empty when
    the crop misses it."""
    (a, b, c), (d, e, f) = m
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
        row by row (a sequential read) first roughly halves the warp's time on such frames.

        When the window spans at least two fifths of the frame's width, its rows are copied whole:
        the band of whole rows is one contiguous block, read in one sweep, and that copy is faster on
        a cold frame than the window's row pieces, extra bytes and all (here, 640-wide frames: 366
        columns 42 us against 55, 280 columns 33 against 39; 200 columns 23 against 18). The warp
        then reads the window as a view of the band (the same pixels, the same edges), a little
        slower through the band's longer rows: on the bench's frames the whole crop gains about
        1.5 us (206 against 207.5), not the copy's 13."""
        h, w = rgb.shape[:2]
        (a, b, c), (d, e, f) = rows = m.tolist()
        x0, y0, x1, y1 = source_window(rows, w, h)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        if x1 <= x0 or y1 <= y0:  # nothing of the frame in the crop: all border
            return cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=flags, borderMode=cv2.BORDER_CONSTANT)
        bx0, bx1 = (0, w) if 5 * (x1 - x0) >= 2 * w else (x0, x1)
        shape = (y1 - y0, bx1 - bx0, *rgb.shape[2:])
        if self._window.size < math.prod(shape) or self._window.dtype != rgb.dtype:
            self._window = np.empty(math.prod(shape), rgb.dtype)
        copied = np.ndarray(shape, rgb.dtype, self._window)
        np.copyto(copied, rgb[y0:y1, bx0:bx1])
        window = copied[:, x0 - bx0:x1 - bx0]
        # The same map, from window pixels: c - x0 and f - y0 are exact in float32 (an integer at
        # most c, resp. f, taken from a float32), so this is m with its last column shifted.
        shifted = np.array([a, b, c - x0, d, e, f - y0], np.float32).reshape(2, 3)
        # Pixels of the frame outside the window are never sampled, and beyond the frame's edge the
        # window's edge is the frame's edge, so the constant border falls on the same pixels.
        return cv2.warpAffine(window, shifted, (INPUT, INPUT), flags=flags, borderMode=cv2.BORDER_CONSTANT)

    def run(self, rgb: np.ndarray, roi: Roi) -> Mesh:
        m = roi.crop_to_frame()
        crop = self._warp(rgb, m)
        # The crop's statistics need the crop alone: taken now, while it is in cache and OpenCV's
        # call path is warm from the warp, rather than in measure() after the invoke has run through
        # megabytes of weights and activations and left both cold.
        stats = crop_stats(crop)
        affine = points_affine(m, roi.size)  # the same for the same region: built before the invoke too
        # float32(x) * float32(1/255), written straight into the interpreter's input buffer: the
        # same values as crop.astype(np.float32) * (1 / 255) passed to set_tensor.
        out = self.model.invoke_scaled(crop, _TO_UNIT)
        logit = min(max(out["conv2d_31"].item(), -100.0), 100.0)  # NaN stays NaN, as with np.clip
        pts = crop_points_to_frame(out["conv2d_21"], affine)
        # the pair differences measure() needs, taken once; their eye line levels the next region
        diffs = pair_diffs(pts)
        return Mesh(pts, 1.0 / (1.0 + math.exp(-logit)), crop, roi,
                    landmark_bounds(pts, diffs[1][EYE_LINE]), diffs, stats)
