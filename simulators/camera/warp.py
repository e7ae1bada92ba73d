"""Piecewise-affine face warps: the jaw drops to open the mouth, the upper lids close to blink.

Each region is a hand-built triangle mesh (strips between polylines, zipped by shortest diagonal)
whose moving vertices are displaced by `level * displacement`. One backward map per level is
rasterised from the triangles and applied with cv2.remap, then cached: warping costs nothing
once every level has been seen.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from simulators.camera.faces import Eye, FaceLayout

MOUTH_INSIDE = (48, 16, 22)  # dark red-brown throat
TEETH = (214, 208, 196)


def _zip(a: list[int], b: list[int], pts: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangulate the strip between polylines a and b (both ordered left to right)."""
    tris, i, j = [], 0, 0
    while i < len(a) - 1 or j < len(b) - 1:
        if i == len(a) - 1:
            step_a = False
        elif j == len(b) - 1:
            step_a = True
        else:
            step_a = (np.linalg.norm(pts[a[i + 1]] - pts[b[j]]) < np.linalg.norm(pts[a[i]] - pts[b[j + 1]]))
        if step_a:
            tris.append((a[i], a[i + 1], b[j]))
            i += 1
        else:
            tris.append((a[i], b[j + 1], b[j]))
            j += 1
    return [t for t in tris if len(set(t)) == 3]


class _Builder:
    def __init__(self) -> None:
        self.src: list[tuple[float, float]] = []
        self.disp: list[tuple[float, float]] = []

    def add(self, p: tuple[float, float], d: tuple[float, float] = (0.0, 0.0)) -> int:
        self.src.append((float(p[0]), float(p[1])))
        self.disp.append((float(d[0]), float(d[1])))
        return len(self.src) - 1


class RegionWarp:
    """One mesh region: source points, full-level displacement, triangles, an optional hole."""

    def __init__(self, b: _Builder, rows: list[list[int]], skip: set[int], hole: list[int],
                 image_shape: tuple[int, ...]) -> None:
        self.src = np.array(b.src, np.float32)
        self.disp = np.array(b.disp, np.float32)
        self.tris: list[tuple[int, int, int]] = []
        full = self.src + self.disp
        for k in range(len(rows) - 1):
            if k in skip:
                continue
            self.tris += _zip(rows[k], rows[k + 1], full)
        self.hole = hole
        h, w = image_shape[:2]
        x0, y0 = np.floor(self.src.min(0)).astype(int)
        x1, y1 = np.ceil(self.src.max(0)).astype(int) + 1
        self.rect = (max(x0, 0), max(y0, 0), min(x1, w), min(y1, h))
        self._cache: dict[int, np.ndarray] = {}

    def patch(self, image: np.ndarray, level: float, steps: int) -> np.ndarray:
        q = round(min(max(level, 0.0), 1.0) * steps)
        if q not in self._cache:
            self._cache[q] = self._render(image, q / steps)
        return self._cache[q]

    def _render(self, image: np.ndarray, level: float) -> np.ndarray:
        x0, y0, x1, y1 = self.rect
        dst = self.src + level * self.disp
        index = np.zeros((y1 - y0, x1 - x0), np.int32)
        inverse = np.zeros((len(self.tris) + 1, 2, 3), np.float32)
        inverse[0] = [[1, 0, 0], [0, 1, 0]]
        for n, tri in enumerate(self.tris, start=1):
            s, d = self.src[list(tri)], dst[list(tri)]
            e1, e2 = s[1] - s[0], s[2] - s[0]
            if abs(e1[0] * e2[1] - e1[1] * e2[0]) < 0.5:
                continue  # collapsed in the source: part of the mouth hole
            inverse[n] = cv2.getAffineTransform(d, s)
            cv2.fillConvexPoly(index, np.round((d - (x0, y0)) * 16).astype(np.int32), n,
                               lineType=cv2.LINE_8, shift=4)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        m = inverse[index]
        map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]
        map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]
        out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if self.hole and level > 0:
            poly = np.round(dst[self.hole] - (x0, y0)).astype(np.int32)
            mask = np.zeros(index.shape, np.uint8)
            cv2.fillPoly(mask, [poly], 255)
            inside = np.full_like(out, MOUTH_INSIDE)
            top = int(poly[:, 1].min())
            depth = max(int(poly[:, 1].max()) - top, 1)
            teeth = np.zeros_like(mask)
            cv2.rectangle(teeth, (0, top), (out.shape[1], top + max(1, depth // 5)), 255, -1)
            inside[teeth > 0] = TEETH
            out[mask > 0] = inside[mask > 0]
        return out


def _curve(a, b, mid, u: float) -> tuple[float, float]:
    """Quadratic through a (u=0), mid (u=0.5), b (u=1)."""
    lx, ly = a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u
    k = 4 * u * (1 - u)
    return (lx + k * (mid[0] - (a[0] + b[0]) / 2), ly + k * (mid[1] - (a[1] + b[1]) / 2))


def mouth_warp(f: FaceLayout, shape: tuple[int, ...], drop: float = 0.13) -> RegionWarp:
    """Fully open (level 1) drops the chin by `drop` x face height, the lower lip with it."""
    b = _Builder()
    D = drop * f.face_height
    mw = f.mouth_left[0] - f.mouth_right[0]
    margin = 0.18 * f.width
    xl, xr = f.jaw_right[0] - margin, f.jaw_left[0] + margin
    ny, my = f.nose_base[1], (f.mouth_right[1] + f.mouth_left[1]) / 2
    lip = f.lower_outer[1] - f.upper_inner[1]
    bottom = f.chin[1] + 0.22 * f.face_height
    us = [k / 6 for k in range(1, 6)]
    prof = [math.sin(math.pi * u) for u in us]

    top = [b.add((x, ny)) for x in (xl, f.mouth_right[0], f.nose_base[0], f.mouth_left[0], xr)]
    side_r, side_l = b.add((xl, my)), b.add((xr, my))
    cheek_r = b.add(((f.mouth_right[0] + f.jaw_right[0]) / 2, my), (0, 0.12 * D))
    cheek_l = b.add(((f.mouth_left[0] + f.jaw_left[0]) / 2, my), (0, 0.12 * D))
    c_r = b.add(f.mouth_right, (0.05 * mw, 0.2 * D))
    c_l = b.add(f.mouth_left, (-0.05 * mw, 0.2 * D))
    line = [_curve(f.mouth_right, f.mouth_left, f.upper_inner, u) for u in us]
    upper = [b.add(p, (0, -0.05 * D * s)) for p, s in zip(line, prof)]
    lower = [b.add(p, (0, D * s ** 0.7)) for p, s in zip(line, prof)]
    outer = [b.add((p[0], p[1] + lip * (0.5 + 0.5 * s)), (0, D * (0.6 + 0.4 * s))) for p, s in zip(line, prof)]
    jaw_r, jaw_l = b.add(f.jaw_right, (0, 0.3 * D)), b.add(f.jaw_left, (0, 0.3 * D))
    side_r2, side_l2 = b.add((xl, (my + f.chin[1]) / 2)), b.add((xr, (my + f.chin[1]) / 2))
    chin_row = [b.add((xl, f.chin[1])),
                b.add(((f.jaw_right[0] + f.chin[0]) / 2, (f.jaw_right[1] + f.chin[1]) / 2 + 0.05 * f.face_height), (0, 0.75 * D)),
                b.add(f.chin, (0, D)),
                b.add(((f.jaw_left[0] + f.chin[0]) / 2, (f.jaw_left[1] + f.chin[1]) / 2 + 0.05 * f.face_height), (0, 0.75 * D)),
                b.add((xr, f.chin[1]))]
    base = [b.add((x, bottom)) for x in (xl, f.jaw_right[0], f.chin[0], f.jaw_left[0], xr)]
    rows = [top,
            [side_r, cheek_r, c_r, *upper, c_l, cheek_l, side_l],
            [side_r, cheek_r, c_r, *lower, c_l, cheek_l, side_l],
            [side_r2, jaw_r, *outer, jaw_l, side_l2],
            chin_row, base]
    return RegionWarp(b, rows, skip={1}, hole=[c_r, *upper, c_l, *reversed(lower)], image_shape=shape)


def blink_warp(eye: Eye, shape: tuple[int, ...]) -> RegionWarp:
    """Fully closed (level 1) brings the upper lid down onto the lower lid."""
    b = _Builder()
    (ox, oy), (ix, iy) = eye.outer, eye.inner
    w = abs(ix - ox)
    lo, hi = min(ox, ix) - 0.35 * w, max(ox, ix) + 0.35 * w
    top_y = min(eye.upper[1], oy, iy) - 0.55 * w
    bot_y = max(eye.lower[1], oy, iy) + 0.45 * w
    cy = (oy + iy) / 2
    us = (0.25, 0.5, 0.75)
    up = [_curve(eye.outer, eye.inner, eye.upper, u) for u in us]
    down = [_curve(eye.outer, eye.inner, eye.lower, u) for u in us]
    top = [b.add((x, top_y)) for x in (lo, (lo + hi) / 2, hi)]
    s_lo, s_hi = b.add((lo, cy)), b.add((hi, cy))
    c_o, c_i = b.add(eye.outer), b.add(eye.inner)
    upper = [b.add(p, (0.9 * (q[0] - p[0]), 0.9 * (q[1] - p[1]))) for p, q in zip(up, down)]
    lower = [b.add(q) for q in down]
    bottom = [b.add((x, bot_y)) for x in (lo, (lo + hi) / 2, hi)]
    corners = (c_o, c_i) if ox < ix else (c_i, c_o)
    if ox > ix:
        upper, lower = upper[::-1], lower[::-1]
    rows = [top, [s_lo, corners[0], *upper, corners[1], s_hi],
            [s_lo, corners[0], *lower, corners[1], s_hi], bottom]
    return RegionWarp(b, rows, skip=set(), hole=[], image_shape=shape)
