"""The camera QR service reading the synthetic camera's "phone showing a QR code": the token read
back exactly, other QR codes passed over, a timeout and a cancel."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from kiosk.hw.registry import open_adapter
from kiosk.services.qr_camera import QrCameraReader, decode_qr, looks_like_token
from simulators.camera import SyntheticCamera, parse_spec

TOKEN = "ESSC1.eyJhIjoiMDEyMzQ1Njc4OUFCQ0RFRiIsImUiOjE3NTEyNzA0NjAsImkiOjE3NTEyNzA0MDAsIm4iOiIwMTIzNDU2Nzg5YWJjZGVmIn0.q2aHcZ0Ga3Ywr0fXMCPXfA"


def test_the_spec_sets_the_phone_and_the_registry_opens_it():
    assert parse_spec(f"synthetic:realtime=0,qr={TOKEN}") == {"realtime": False, "qr": TOKEN}
    cam = open_adapter("camera", f"synthetic:realtime=0,seed=2,qr={TOKEN}", None)
    try:
        assert "phone=qr" in cam.health().detail and "phone=qr" in repr(cam)
        scan = QrCameraReader(cam).scan(5.0)
        assert scan.token == TOKEN and scan.frames <= 3
        assert TOKEN not in repr(scan)
    finally:
        cam.close()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_each_frame_of_the_phone_decodes_to_the_token_exactly(seed):
    cam = SyntheticCamera(seed=seed, qr=TOKEN)
    frames = cam.frames()
    texts = [decode_qr(next(frames).rgb) for _ in range(5)]
    assert texts == [[TOKEN]] * 5
    frame = next(frames).rgb
    assert frame.shape == (480, 640, 3) and len(np.unique(frame[200:300, 250:400])) > 2  # noise, not flat


def test_a_token_shown_at_run_time_is_read_and_putting_the_phone_away_ends_it():
    cam = SyntheticCamera(seed=1)
    assert QrCameraReader(cam).scan(0.3).token is None
    fresh = TOKEN.replace("q2aH", "Zz9_")
    cam.show_qr(fresh)
    assert QrCameraReader(cam).scan(3.0).token == fresh
    cam.show_qr(None)
    assert QrCameraReader(cam).scan(0.3).token is None


def test_a_qr_code_that_is_not_a_token_is_passed_over_and_counted():
    cam = SyntheticCamera(seed=3, qr="https://example.org/not-an-ecard")
    started = time.monotonic()
    scan = QrCameraReader(cam).scan(0.5)
    assert scan.token is None and scan.others == scan.frames >= 2
    assert 0.45 <= time.monotonic() - started < 3


def test_a_dim_picture_still_reads_the_phone_screen():
    cam = SyntheticCamera(mode="dark", seed=0, qr=TOKEN)  # gain 0.12: white is 30 of 255
    assert QrCameraReader(cam).scan(2.0).token == TOKEN


def test_cancel_stops_the_scan_promptly():
    cam = SyntheticCamera(seed=0, realtime=True, fps=15)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    scan = QrCameraReader(cam).scan(10.0, cancel)
    assert scan.cancelled and scan.token is None and time.monotonic() - started < 1.0
    cam.close()


def test_a_closed_camera_ends_the_scan():
    cam = SyntheticCamera(seed=0, qr=None)
    cam.close()
    assert QrCameraReader(cam).scan(5.0).frames == 0


@pytest.mark.parametrize(("text", "ok"), [
    (TOKEN, True), ("ESSC1.", True), ("essc1.abc", False), ("ESSC2.abc.def", False), ("http://x", False),
    ("ESSC1." + "a" * 507, False), ("ESSC1.abc\x00", False), ("ESSC1.社保", False),
])
def test_what_looks_like_a_token(text, ok):
    assert looks_like_token(text) is ok
