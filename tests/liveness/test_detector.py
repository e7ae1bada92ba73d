"""The detector and the face mesh on real faces shipped by packages."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.liveness.detector import make_anchors, weighted_nms
from kiosk.liveness.landmarks import Roi
from kiosk.liveness.measures import measure
from simulators.camera import SyntheticCamera
from simulators.camera.faces import load_face

# Where a person would put each part on the packaged photos (checked by eye on the images).
FACES = {
    "grace_hopper": {"box": (150, 120, 390, 360), "mouth": (268, 277), "right_eye": (220, 192),
                     "left_eye": (308, 186), "ratio": (0.0, 0.06)},
    "astronaut": {"box": (165, 60, 290, 195), "mouth": (223, 145), "right_eye": (204, 102),
                  "left_eye": (247, 104), "ratio": (0.12, 0.28)},
}


def test_anchor_layout():
    anchors = make_anchors()
    assert anchors.shape == (896, 2)
    assert np.allclose(anchors[0], [0.5 / 16, 0.5 / 16]) and np.allclose(anchors[1], anchors[0])
    assert np.allclose(anchors[512], [0.5 / 8, 0.5 / 8]) and np.allclose(anchors[517], anchors[512])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    pts = np.zeros((3, 6, 2), np.float32)
    out = weighted_nms(boxes, pts, np.array([0.9, 0.6, 0.8]), 0.3)
    assert len(out) == 2
    merged = out[0][0]
    assert 0 < merged[0] < 1 and out[0][2] == pytest.approx(0.9)


@pytest.mark.parametrize("name", sorted(FACES))
def test_detector_finds_the_face_and_landmarks_land_on_it(engine, name):
    photo, want = load_face(name), FACES[name]
    dets = engine.detector.detect(photo.rgb)
    assert len(dets) == 1 and dets[0].score > 0.8
    x0, y0, x1, y1 = dets[0].box
    bx0, by0, bx1, by1 = want["box"]
    assert bx0 <= x0 and by0 <= y0 and x1 <= bx1 and y1 <= by1, dets[0].box
    mesh = engine.landmarker.run(photo.rgb, Roi.from_detection(dets[0]))
    mesh = engine.landmarker.run(photo.rgb, Roi.from_landmarks(mesh.points))  # tracked region
    assert mesh.presence > 0.9
    eye_dist = np.hypot(*(np.subtract(want["left_eye"], want["right_eye"])))
    p = mesh.points
    for idx in (13, 14):  # inner lips
        assert np.hypot(*(p[idx, :2] - want["mouth"])) < 0.2 * eye_dist, (idx, p[idx, :2])
    right_eye = p[[33, 133], :2].mean(0)
    left_eye = p[[263, 362], :2].mean(0)
    assert np.hypot(*(right_eye - want["right_eye"])) < 0.2 * eye_dist
    assert np.hypot(*(left_eye - want["left_eye"])) < 0.2 * eye_dist
    m = measure(mesh, photo.rgb.shape, 0.0)
    lo, hi = want["ratio"]
    assert lo <= m.mouth_ratio <= hi
    assert abs(m.yaw_deg) < 12 and abs(m.roll_deg) < 12 and abs(m.pitch_deg) < 12


def test_no_face_in_an_empty_scene(engine):
    cam = SyntheticCamera(mode="noface")
    assert engine.detector.detect(next(cam.frames()).rgb) == []


def test_two_faces_are_two_detections(engine):
    cam = SyntheticCamera(mode="twofaces")
    assert len(engine.detector.detect(next(cam.frames()).rgb)) == 2


@pytest.mark.parametrize("name", sorted(FACES))
def test_synthetic_open_mouth_reads_as_open(engine, name):
    """GIVEN the synthetic subject fully opening the mouth THEN the mesh follows: ratio > 0.3."""
    cam = SyntheticCamera(face=name)
    frames = cam.frames()
    first = next(frames)
    dets = engine.detector.detect(first.rgb)
    roi = Roi.from_detection(dets[0])
    cam.cue("cue")
    best = 0.0
    for _ in range(30):
        frame = next(frames)
        mesh = engine.landmarker.run(frame.rgb, roi)
        roi = Roi.from_landmarks(mesh.points)
        best = max(best, measure(mesh, frame.rgb.shape, frame.timestamp).mouth_ratio)
    assert best > 0.33
