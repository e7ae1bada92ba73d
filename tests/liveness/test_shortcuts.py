"""The per-frame shortcuts give what the plain computations they replaced gave, on real frames.

Each reference below is the earlier code, kept verbatim: the whole-frame warp, set_tensor, the
numpy measures, and the descriptor computed for every offered picture.
"""

from __future__ import annotations

import math
import random

import cv2
import numpy as np
import pytest

from kiosk.liveness import FaceEngine, LivenessSession, LivenessSettings
from kiosk.liveness import landmarks as L
from kiosk.liveness import session as session_module
from kiosk.liveness.captures import CaptureSet
from kiosk.liveness.landmarks import INPUT, Mesh, Roi
from kiosk.liveness.measures import PITCH_OFFSET_DEG, measure, sharpness
from simulators.camera import SyntheticCamera
from simulators.camera.faces import load_face


def _frames(engine: FaceEngine, n: int = 60, seed: int = 3) -> list:
    """Frames of a genuine challenge, cues answered, as the bench records them."""
    session = LivenessSession(engine, LivenessSettings(attempts=1), random.Random(seed))
    cam = SyntheticCamera(seed=seed, fps=15.0)
    frames = []
    for frame in cam.frames():
        frames.append(frame)
        for ev in session.feed(frame):
            if ev.kind == "cue":
                cam.cue(ev)
        if len(frames) >= n or session.done:
            break
    cam.close()
    return frames


@pytest.fixture(scope="module")
def tracked(engine):
    """(rgb, roi) pairs: every frame with the region the tracker used on it."""
    out = []
    roi = None
    for frame in _frames(engine):
        if roi is None:
            dets = engine.detector.detect(frame.rgb)
            if not dets:
                continue
            roi = Roi.from_detection(dets[0])
        out.append((frame.rgb, roi))
        roi = Roi.from_landmarks(engine.landmarker.run(frame.rgb, roi).points)
    assert len(out) > 40
    return out


def _whole_frame_warp(rgb: np.ndarray, m: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT)


def _reference_run(engine: FaceEngine, rgb: np.ndarray, roi: Roi) -> Mesh:
    """The landmark step before the shortcuts: whole-frame warp, float copy, set_tensor."""
    m = roi.crop_to_frame()
    crop = _whole_frame_warp(rgb, m)
    model = engine.landmarker.model
    out = model.invoke(crop.astype(np.float32)[None] * np.float32(1.0 / 255.0))
    raw = out["conv2d_21"].reshape(468, 3)
    logit = float(np.clip(out["conv2d_31"].reshape(()), -100.0, 100.0))
    pts = np.empty_like(raw)
    pts[:, :2] = raw[:, :2] @ m[:, :2].T + m[:, 2]
    pts[:, 2] = raw[:, 2] * (roi.size / INPUT)
    return Mesh(pts, 1.0 / (1.0 + math.exp(-logit)), crop, roi)


def test_window_warp_is_the_whole_frame_warp(engine, tracked):
    lm = engine.landmarker
    for rgb, roi in tracked:
        m = roi.crop_to_frame()
        np.testing.assert_array_equal(lm._warp(rgb, m), _whole_frame_warp(rgb, m))


@pytest.mark.parametrize("dx, dy, size, angle", [
    (-330, 0, 300, 0.3),  # hanging off the left edge
    (0, 250, 400, -0.5),  # off the bottom
    (300, -230, 260, 2.0),  # a corner, steeply rotated
    (0, 0, 900, 0.1),  # larger than the frame
    (2000, 0, 200, 0.0),  # entirely outside: all border
    (0.37, -0.61, 191.3, 0.0),  # unrotated, fractional
    (0.49, 0.23, 50.0, 0.05),  # small: magnified, the window is a few dozen pixels
    (-0.5, 0.5, 96.0, 0.0),  # half scale, samples on pixel centres
    (319.6, 239.3, 60.0, 0.7),  # small, at the bottom-right corner
])
def test_window_warp_at_the_edges(engine, tracked, dx, dy, size, angle):
    rgb = tracked[len(tracked) // 2][0]
    m = Roi(320 + dx, 240 + dy, size, angle).crop_to_frame()
    np.testing.assert_array_equal(engine.landmarker._warp(rgb, m), _whole_frame_warp(rgb, m))


def test_window_warp_on_other_shapes(engine):
    photo = load_face("astronaut").rgb  # 512x512, not the camera's size
    dets = engine.detector.detect(photo)
    m = Roi.from_detection(dets[0]).crop_to_frame()
    np.testing.assert_array_equal(engine.landmarker._warp(photo, m), _whole_frame_warp(photo, m))
    strided = np.ascontiguousarray(np.pad(photo, ((0, 0), (0, 0), (0, 1))))[:, :, :3]  # not contiguous
    np.testing.assert_array_equal(engine.landmarker._warp(strided, m), _whole_frame_warp(photo, m))


def test_landmarks_equal_the_set_tensor_path(engine, tracked):
    for rgb, roi in tracked[:20]:
        ref = _reference_run(engine, rgb, roi)
        got = engine.landmarker.run(rgb, roi)
        np.testing.assert_array_equal(got.crop, ref.crop)
        # one 3x3 product with exact zero terms for the 2x2 product, shift and z scaling: the
        # same float32 values here (x86-64); a BLAS with fused multiply-adds may round the last bit
        np.testing.assert_allclose(got.points, ref.points, rtol=1e-6, atol=1e-4)
        assert got.presence == ref.presence and got.roi == ref.roi


def _row_product(raw: np.ndarray, m: np.ndarray, size: float) -> np.ndarray:
    """Crop points to frame points as (468, 3) @ (3, 3) plus the offset broadcast over the rows."""
    (m00, m01, m02), (m10, m11, m12) = m.tolist()
    affine = np.array([[m00, m10, 0.0], [m01, m11, 0.0], [0.0, 0.0, size / INPUT],
                       [m02, m12, 0.0]], np.float32)
    pts = raw.reshape(468, 3) @ affine[:3]
    pts += affine[3]
    return pts


def test_points_by_coordinate_equal_the_row_product(engine, tracked):
    lm = engine.landmarker
    for rgb, roi in tracked[:20]:
        m = roi.crop_to_frame()
        raw = lm.model.invoke_scaled(lm._warp(rgb, m), np.float32(1.0 / 255.0))["conv2d_21"]
        got = L.crop_points_to_frame(raw, L.points_affine(m, roi.size))
        assert got.shape == (468, 3) and got.dtype == np.float32
        np.testing.assert_array_equal(got, _row_product(raw, m, roi.size))
        np.testing.assert_array_equal(lm.run(rgb, roi).points, got)
    rng = np.random.default_rng(17)
    for _ in range(500):
        raw = rng.normal(96.0, 60.0, (1, 1, 1, 1404)).astype(np.float32)
        roi = Roi(*rng.uniform(-200.0, 900.0, 2), rng.uniform(20.0, 900.0), rng.uniform(-3.2, 3.2))
        m = roi.crop_to_frame()
        np.testing.assert_array_equal(L.crop_points_to_frame(raw, L.points_affine(m, roi.size)),
                                      _row_product(raw, m, roi.size))


def _reference_roi(pts: np.ndarray) -> Roi:
    """Roi.from_landmarks before landmark_bounds()."""
    (rx, ry), (lx, ly) = pts[L.RIGHT_EYE_OUTER, :2], pts[L.LEFT_EYE_OUTER, :2]
    angle = math.atan2(ly - ry, lx - rx)
    c, s = math.cos(angle), math.sin(angle)
    xy = pts[:, :2]
    u = xy[:, 0] * c + xy[:, 1] * s
    v = -xy[:, 0] * s + xy[:, 1] * c
    u0, u1, v0, v1 = u.min(), u.max(), v.min(), v.max()
    uc, vc = (u0 + u1) / 2, (v0 + v1) / 2
    return Roi(float(uc * c - vc * s), float(uc * s + vc * c),
               float(L.ROI_SCALE * max(u1 - u0, v1 - v0)), angle)


def test_next_region_and_box_equal_the_column_arithmetic(engine, tracked):
    for rgb, roi in tracked:
        mesh = engine.landmarker.run(rgb, roi)
        assert mesh.bounds is not None
        angle, bounds = L.landmark_bounds(mesh.points)
        assert angle == mesh.bounds[0]
        np.testing.assert_array_equal(bounds, mesh.bounds[1])
        want = _reference_roi(mesh.points)
        assert Roi.from_landmarks(mesh.points) == want and mesh.next_roi() == want
        assert Mesh(mesh.points, mesh.presence, mesh.crop, mesh.roi).next_roi() == want  # no bounds
        xy = mesh.points[:, :2]
        np.testing.assert_array_equal(bounds[:, :2], [xy.min(axis=0), xy.max(axis=0)])


def _reference_measure(mesh: Mesh, frame_shape: tuple[int, ...], t: float) -> dict[str, object]:
    p = mesh.points
    h, w = frame_shape[:2]
    ex = p[L.LEFT_EYE_OUTER] - p[L.RIGHT_EYE_OUTER]
    ey = p[L.CHIN] - p[L.FOREHEAD]
    (x0, y0), (x1, y1) = p[:, :2].min(axis=0), p[:, :2].max(axis=0)
    gray = cv2.cvtColor(mesh.crop[40:152, 40:152], cv2.COLOR_RGB2GRAY)
    pairs = (np.array([159, 33, 386, 263, L.UPPER_LIP, L.MOUTH_RIGHT, 234]),
             np.array([145, 133, 374, 362, L.LOWER_LIP, L.MOUTH_LEFT, 454]))
    diff = p[pairs[0], :2] - p[pairs[1], :2]
    lid_r, eye_w_r, lid_l, eye_w_l, lips, mouth_w, cheeks = np.hypot(diff[:, 0], diff[:, 1]).tolist()
    return dict(
        t=t, mouth_ratio=lips / max(mouth_w, 1e-6),
        yaw_deg=math.degrees(math.atan2(ex[2], ex[0])),
        pitch_deg=math.degrees(math.atan2(ey[2], ey[1])) - PITCH_OFFSET_DEG,
        roll_deg=math.degrees(math.atan2(ex[1], ex[0])),
        face_frac=cheeks / w,
        centre_dx=float((x0 + x1) / 2 / w - 0.5), centre_dy=float((y0 + y1) / 2 / h - 0.5),
        eye_dist=float(np.hypot(ex[0], ex[1])),
        sharpness=float(cv2.Laplacian(gray, cv2.CV_32F).var()),
        luma=float(gray.mean()),
        eye_ratio=(lid_r / max(eye_w_r, 1e-6) + lid_l / max(eye_w_l, 1e-6)) / 2,
        box=(float(x0), float(y0), float(x1), float(y1)))


def test_measures_equal_the_numpy_ones(engine, tracked):
    for rgb, roi in tracked:
        mesh = engine.landmarker.run(rgb, roi)
        got, ref = measure(mesh, rgb.shape, 1.5), _reference_measure(mesh, rgb.shape, 1.5)
        assert measure(Mesh(mesh.points, mesh.presence, mesh.crop, mesh.roi), rgb.shape, 1.5) == got
        for name, want in ref.items():
            value = getattr(got, name)
            if name == "sharpness":  # double accumulation against float32: rounding apart
                assert value == pytest.approx(want, rel=1e-5), name
            elif name == "luma":  # sum times 1/n against sum / n
                assert value == pytest.approx(want, rel=1e-12), name
            else:  # the same float32 arithmetic
                assert value == want, name


def test_sharpness_is_the_laplacian_variance():
    rng = np.random.default_rng(5)
    for shape in ((112, 112), (30, 70), (1, 5)):
        gray = rng.integers(0, 256, shape, dtype=np.uint8)
        want = float(cv2.Laplacian(gray, cv2.CV_32F).var())
        assert sharpness(gray) == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert sharpness(np.full((20, 20), 77, np.uint8)) == 0.0
    board = (np.indices((40, 40)).sum(axis=0) % 2 * 255).astype(np.uint8)  # the Laplacian's extremes
    lap = cv2.Laplacian(board, cv2.CV_32F)
    assert lap.min() == -1020 and lap.max() == 1020
    assert sharpness(board) == pytest.approx(float(lap.var()), rel=1e-5)


def test_wants_agrees_with_offer():
    cs = CaptureSet()
    assert cs.wants(0, 1.0)
    cs.best[0] = type("C", (), {"score": 2.0})()  # type: ignore[assignment]
    assert not cs.wants(0, 2.0) and not cs.wants(0, 1.0) and cs.wants(0, 2.5)
    cs.finalise(0)
    assert not cs.wants(0, 99.0)


def _old_offer(self: CaptureSet, slot: int, cand) -> None:
    if self.final[slot]:
        return
    cur = self.best[slot]
    if cur is None or cand.score > cur.score:
        self.best[slot] = cand


def test_session_unchanged_when_descriptors_are_skipped(engine, monkeypatch):
    """Descriptors computed only for pictures that will be kept: the same events, verdict,
    pictures and diagnostics as computing one for every offered picture."""
    original = session_module.face_descriptor

    def run(every: bool) -> tuple[list, object, dict, int]:
        calls = []
        with monkeypatch.context() as mp:
            if every:  # the session asks nothing first; offer() decides, as before
                mp.setattr(CaptureSet, "wants", lambda self, slot, score: True)
                mp.setattr(CaptureSet, "offer", _old_offer)
            mp.setattr(session_module, "face_descriptor", lambda *a: calls.append(1) or original(*a))
            session = LivenessSession(engine, LivenessSettings(attempts=1), random.Random(11))
            cam = SyntheticCamera(seed=11, fps=15.0)
            events, diagnostics = [], {}
            for frame in cam.frames():
                for ev in session.feed(frame):
                    events.append(ev)
                    if ev.kind == "cue":
                        cam.cue(ev)
                if session.done:
                    break
                diagnostics = session.diagnostics()
            cam.close()
        return events, session.verdict, diagnostics, len(calls)

    every_events, every_verdict, every_diag, offered = run(every=True)
    events, verdict, diag, computed = run(every=False)
    assert verdict == every_verdict and events == every_events and diag == every_diag
    assert verdict.result == "live" and len(verdict.captures) == 4 and "min_ncc" in diag
    assert 4 <= computed < offered
