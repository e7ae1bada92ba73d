"""The ID-photo check on synthetic-camera frames: an accepted photo, and each refusal with the
reason the citizen is shown."""

from __future__ import annotations

import io
from dataclasses import fields

import cv2
import numpy as np
import pytest
from PIL import Image

from kiosk import config
from kiosk.liveness import FaceEngine, ModelError
from kiosk.services.id_photo import CROP_SIZE, PROBLEMS, PhotoSettings, check_photo
from simulators.camera import SyntheticCamera
from simulators.camera.faces import FacePhoto, load_face

PLAIN = (214, 216, 220)  # a light grey backdrop, as photo booths use


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    try:
        return FaceEngine.load()
    except ModelError as exc:
        pytest.fail(str(exc))


def frame(photo: FacePhoto | None = None, **kw) -> np.ndarray:
    """One synthetic-camera frame; `photo` replaces the packaged face with an edited copy."""
    kw.setdefault("scale", 0.8)  # at 640x480 the ID window must fit around the face
    cam = SyntheticCamera(**kw)
    if photo is not None:
        cam.actors[0].photo, cam.actors[0].work = photo, photo.rgb.copy()
    return next(cam.frames()).rgb


def on_plain_background(name: str) -> FacePhoto:
    """The packaged photo with everything around the head and shoulders painted plain."""
    ph = load_face(name)
    lay, (h, w) = ph.layout, ph.rgb.shape[:2]
    keep = np.zeros((h, w), np.uint8)
    cx, _ = lay.centre
    fh = lay.face_height
    # head with hat or hair: from well above the forehead to the chin
    cv2.ellipse(keep, (int(cx), int(lay.forehead[1] + 0.3 * fh)), (int(0.62 * lay.width),
                int(0.85 * fh)), 0, 0, 360, 255, -1)
    shoulders = np.array([(cx - 0.4 * lay.width, lay.chin[1] - 0.1 * fh),
                          (cx + 0.4 * lay.width, lay.chin[1] - 0.1 * fh),
                          (cx + 1.6 * lay.width, lay.chin[1] + 0.9 * fh),
                          (cx + 1.6 * lay.width, h), (cx - 1.6 * lay.width, h),
                          (cx - 1.6 * lay.width, lay.chin[1] + 0.9 * fh)], np.int32)
    cv2.fillPoly(keep, [shoulders], 255)  # neck, shoulders and body
    alpha = cv2.GaussianBlur(keep, (9, 9), 0)[..., None] / 255.0
    rgb = (ph.rgb * alpha + np.array(PLAIN) * (1 - alpha)).astype(np.uint8)
    return FacePhoto(name, rgb, lay)


def with_closed_eyes(ph: FacePhoto) -> FacePhoto:
    """Lids painted over both eyes: skin from just below, a thin lash line across."""
    rgb = ph.rgb.copy()
    for eye in (ph.layout.right_eye, ph.layout.left_eye):
        (ox, oy), (ix, iy) = eye.outer, eye.inner
        width = abs(ix - ox)
        cx, cy = (ox + ix) / 2, (oy + iy) / 2
        skin = rgb[int(cy + 0.8 * width):int(cy + width), int(cx - 3):int(cx + 3)].reshape(-1, 3)
        lid = np.zeros(rgb.shape[:2], np.uint8)
        cv2.ellipse(lid, (int(cx), int(cy)), (int(0.7 * width), int(0.4 * width)), 0, 0, 360,
                    255, -1)
        alpha = cv2.GaussianBlur(lid, (7, 7), 0)[..., None] / 255.0
        rgb = (rgb * (1 - alpha) + skin.mean(0) * alpha).astype(np.uint8)
        lash = np.array([(ox, oy), (cx, cy + 0.18 * width), (ix, iy)], np.int32)
        cv2.polylines(rgb, [lash], False, (50, 35, 30), 2, cv2.LINE_AA)
    return FacePhoto(ph.name, rgb, ph.layout)


def test_a_frontal_face_on_a_plain_backdrop_is_accepted_and_cropped(engine):
    """GIVEN the astronaut portrait (studio backdrop) centred and level THEN the photo is
    accepted and the crop is a 358x441 JPEG with the face in it."""
    result = check_photo(frame(face="astronaut"), engine)
    assert result.ok and result.problems == ()
    img = Image.open(io.BytesIO(result.crop))
    assert img.format == "JPEG" and img.size == CROP_SIZE
    inner = engine.detector.detect(np.asarray(img.convert("RGB")))
    assert len(inner) == 1
    x0, _, x1, _ = inner[0].box
    assert 0.3 < (x0 + x1) / 2 / CROP_SIZE[0] < 0.7  # the face is centred in the crop


def test_a_busy_background_is_refused_and_the_same_face_on_a_plain_one_accepted(engine):
    """GIVEN Grace Hopper in front of a flag THEN refused for the background only; GIVEN the
    same photo with the background painted plain THEN accepted."""
    busy = check_photo(frame(face="grace_hopper"), engine)
    assert busy.problems == ("photo.problem.busy_background",) and busy.crop == b""
    plain = check_photo(frame(on_plain_background("grace_hopper")), engine)
    assert plain.ok, plain.problems


@pytest.mark.parametrize(("camera", "problem"), [
    ({"mode": "noface"}, "photo.problem.no_face"),
    ({"mode": "twofaces", "scale": 1.0}, "photo.problem.several_faces"),
    ({"face": "astronaut", "dx": 0.25}, "photo.problem.not_centred"),
    ({"face": "astronaut", "roll": 20}, "photo.problem.tilted"),
    ({"face": "astronaut", "scale": 0.45}, "photo.problem.too_far"),
    ({"face": "astronaut", "scale": 1.1}, "photo.problem.too_close"),
    ({"face": "astronaut", "mode": "dark"}, "photo.problem.too_dark"),
])
def test_camera_conditions_are_refused_with_their_reason(engine, camera, problem):
    result = check_photo(frame(**camera), engine)
    assert not result.ok and problem in result.problems and result.crop == b""
    assert set(result.problems) <= set(PROBLEMS)


def test_blur_and_a_shadowed_side_are_refused(engine):
    good = frame(face="astronaut")
    blurred = cv2.GaussianBlur(good, (0, 0), 3.0)
    assert check_photo(blurred, engine).problems == ("photo.problem.blurred",)
    # light from the citizen's left only: the frame darkens steadily to the right
    ramp = np.linspace(1.0, 0.3, good.shape[1], dtype=np.float32)[None, :, None]
    shadowed = (good * ramp).astype(np.uint8)
    assert "photo.problem.uneven_light" in check_photo(shadowed, engine).problems


def test_closed_eyes_are_refused(engine):
    plain = on_plain_background("grace_hopper")
    assert check_photo(frame(plain), engine).ok
    closed = check_photo(frame(with_closed_eyes(plain)), engine)
    assert closed.problems == ("photo.problem.eyes_closed",)


def test_thresholds_come_from_the_config_schema():
    cfg = config.load(None, environ={})
    assert PhotoSettings.from_config(cfg) == PhotoSettings()  # defaults agree with the schema
    assert all(f"photo.{f.name}" in config.KEYS for f in fields(PhotoSettings))
    strict = cfg.with_overrides({"photo.max_roll_deg": 2.0})
    assert PhotoSettings.from_config(strict).max_roll_deg == 2.0


def test_only_rgb_frames_are_taken(engine):
    with pytest.raises(ValueError):
        check_photo(np.zeros((48, 64), np.uint8), engine)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_refusal_has_a_message_in_both_languages(lang):
    from kiosk.i18n import catalog

    messages = catalog(lang)
    missing = [p for p in PROBLEMS if p not in messages]
    missing += [k for k in ("reference.outlets.not_yet", "reference.outlets.unreadable",
                            "reference.outlets.none") if k not in messages]
    assert missing == []
