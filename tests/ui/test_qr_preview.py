"""The e-card QR screen shows what the camera sees while the camera looks for the code (the citizen
aims the phone by it), and the picture it shows is the one being decoded; with a scanner, or before
the first frame, it shows the phone drawing. Screenshots: out/test-artifacts/qr-preview/."""

from __future__ import annotations

import numpy as np
import pygame
import pytest
import zxingcpp

from kiosk.screens import card_screens
from simulators.camera import SyntheticCamera
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

TOKEN = "ESSC1.eyJhIjoiMDEyMzQ1Njc4OUFCQ0RFRiJ9.q2aHcZ0Ga3Ywr0fXMCPXfA"


@pytest.fixture
def phone_frame() -> np.ndarray:
    """A frame of the synthetic camera's subject holding up a phone with an e-card QR code."""
    camera = SyntheticCamera(seed=4, qr=TOKEN)
    try:
        return next(camera.frames()).rgb
    finally:
        camera.close()


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_camera_picture_is_shown_while_it_looks_for_the_code(tmp_path, phone_frame, lang, monkeypatch):
    h = make_harness(tmp_path, lang=lang)
    try:
        ui = h.ui
        shown: list[object] = [None]
        monkeypatch.setattr(ui.desk, "qr_preview", lambda: shown[0])
        screen = card_screens.ShowQrScreen(ui, 30.0)
        ui.show(screen)
        h.frame()
        assert not hasattr(screen, "preview_rect")  # no frame yet: the phone drawing
        shown[0] = phone_frame
        h.frame()
        out = ARTIFACTS / "qr-preview"
        out.mkdir(parents=True, exist_ok=True)
        pygame.image.save(ui.surface, str(out / f"{lang}-camera.png"))
        view = screen.preview_rect
        assert ui.surface.get_rect().contains(view) and view.height >= ui.theme.px(400)
        # what is shown is the decoded picture, mirrored: flipped back, the code in it reads
        pixels = pygame.surfarray.array3d(ui.surface.subsurface(view)).swapaxes(0, 1)[:, ::-1]
        read = zxingcpp.read_barcodes(np.ascontiguousarray(pixels[..., 1]))
        assert TOKEN in [r.text for r in read]
        shown[0] = None  # the scan ended (or a scanner reads it): the picture goes with it
        del screen.preview_rect
        h.frame()
        assert not hasattr(screen, "preview_rect")
    finally:
        h.close()
