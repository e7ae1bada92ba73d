"""Desk.scan_ecard_qr from each source: the scanner when one is fitted and healthy (the simulator on
a pty), else the camera (the synthetic camera's phone); the typed errors; the error messages."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from kiosk import config
from kiosk.hw.camera_synthetic import SyntheticCameraAdapter
from kiosk.hw.health import HealthState
from kiosk.hw.registry import Unavailable
from kiosk.hw.scanner_serial import SerialBarcodeScanner, open_line
from kiosk.i18n import catalog
from kiosk.services.desk import Desk
from kiosk.services.ecard_signin import (
    TOKEN_REFUSALS,
    EcardRefused,
    EcardSignIn,
    NoQrCode,
    NoQrReader,
    NotAnEcardToken,
)
from kiosk.services.errors import explain
from kiosk.services.queries import Assurance
from simulators.camera import SyntheticCamera
from simulators.scanner import ScannerSim

TOKEN = "ESSC1.eyJhIjoiMDEyMzQ1Njc4OUFCQ0RFRiIsImUiOjE3NTEyNzA0NjAsImkiOjE3NTEyNzA0MDAsIm4iOiIwMTIzNDU2Nzg5YWJjZGVmIn0.q2aHcZ0Ga3Ywr0fXMCPXfA"
DATA_DIR = tempfile.mkdtemp(prefix="scanner-desk-")


def camera_of(camera: SyntheticCamera) -> SyntheticCameraAdapter:
    """The kiosk's synthetic camera adapter, as the registry gives it."""
    return SyntheticCameraAdapter(camera)


def desk(scanner: object, camera: object) -> Desk:
    cfg = config.load(None, environ={"KIOSK_DATA_DIR": DATA_DIR})
    services = SimpleNamespace(cfg=cfg, queries=None, devices=SimpleNamespace(scanner=scanner, camera=camera))
    return Desk(services)


@pytest.fixture
def sim() -> Iterator[ScannerSim]:
    with ScannerSim() as running:
        yield running


@pytest.fixture
def scanner(sim: ScannerSim) -> Iterator[SerialBarcodeScanner]:
    with SerialBarcodeScanner(open_line(sim.device, 9600), sim.device, line_gap_s=0.15) as adapter:
        yield adapter


def test_with_a_scanner_the_code_comes_from_it_not_the_camera(sim, scanner):
    other = TOKEN.replace("q2aH", "CAMx")
    camera = camera_of(SyntheticCamera(seed=1, qr=other))
    threading.Timer(0.3, sim.scan, args=(TOKEN,)).start()
    assert desk(scanner, camera).scan_ecard_qr(3.0) == TOKEN


def test_a_code_scanned_before_the_step_is_not_taken(sim, scanner):
    sim.scan(TOKEN.replace("q2aH", "OLD0"))  # the previous citizen's, never read
    time.sleep(0.1)
    threading.Timer(0.3, sim.scan, args=(TOKEN,)).start()
    assert desk(scanner, None).scan_ecard_qr(3.0) == TOKEN


def test_the_scanner_times_out_as_no_qr_code(scanner):
    started = time.monotonic()
    with pytest.raises(NoQrCode):
        desk(scanner, None).scan_ecard_qr(0.4)
    assert 0.35 <= time.monotonic() - started < 1.5


def test_a_scanned_code_that_is_not_a_token_is_refused(sim, scanner):
    threading.Timer(0.2, sim.scan, args=("6901234567892",)).start()
    with pytest.raises(NotAnEcardToken) as caught:
        desk(scanner, None).scan_ecard_qr(3.0)
    assert caught.value.source == "scanner"


@pytest.mark.parametrize("fault", ["garbage", "long"])
def test_a_garbled_or_overlong_line_is_not_an_ecard_token(sim, scanner, fault):
    threading.Timer(0.2, sim.fault, args=(fault,)).start()
    with pytest.raises(NotAnEcardToken, match="not a code"):
        desk(scanner, None).scan_ecard_qr(3.0)


def test_cancel_ends_a_scanner_wait(scanner):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(NoQrCode, match="cancelled"):
        desk(scanner, None).scan_ecard_qr(10.0, cancel)
    assert time.monotonic() - started < 1.0


def test_without_a_scanner_the_camera_reads_the_phone():
    none = Unavailable("scanner", "health.scanner.not_installed", "configured as none")
    camera = camera_of(SyntheticCamera(seed=2, qr=TOKEN))
    assert desk(none, camera).scan_ecard_qr(3.0) == TOKEN


def test_an_unplugged_scanner_hands_over_to_the_camera(sim, scanner):
    camera = camera_of(SyntheticCamera(seed=0, qr=TOKEN))
    sim.close()  # gone before the step: health is offline, the camera is used
    assert scanner.health().state is HealthState.OFFLINE
    assert desk(scanner, camera).scan_ecard_qr(3.0) == TOKEN


def test_a_scanner_failing_during_the_scan_hands_over_to_the_camera(sim, scanner, caplog):
    camera = camera_of(SyntheticCamera(seed=3, qr=TOKEN))
    scanner.line.close()  # healthy when asked, then the read fails: ScannerFault
    assert scanner.health().state is HealthState.OK
    with caplog.at_level("WARNING", logger="kiosk.services.desk"):
        assert desk(scanner, camera).scan_ecard_qr(3.0) == TOKEN
    assert "source=scanner result=fault" in caplog.text
    assert scanner.health().state is HealthState.OFFLINE


def test_the_source_is_said_before_scanning_and_with_neither_there_is_no_reader(sim, scanner):
    none = Unavailable("scanner", "health.scanner.not_installed", "configured as none")
    no_camera = Unavailable("camera", "health.camera.not_installed", "configured as none")
    camera = camera_of(SyntheticCamera(seed=0, qr=TOKEN))
    assert desk(scanner, camera).ecard_qr_source() == "scanner"
    assert desk(none, camera).ecard_qr_source() == "camera"
    assert desk(none, no_camera).ecard_qr_source() == ""
    with pytest.raises(NoQrReader):
        desk(none, no_camera).scan_ecard_qr(1.0)
    camera.close()
    assert desk(none, camera).ecard_qr_source() == ""


def test_the_camera_seeing_only_other_codes_says_so_and_nothing_times_out():
    none = Unavailable("scanner", "health.scanner.not_installed", "configured as none")
    with pytest.raises(NotAnEcardToken) as caught:
        desk(none, camera_of(SyntheticCamera(seed=0, qr="https://example.org/menu"))).scan_ecard_qr(0.5)
    assert caught.value.source == "camera"
    with pytest.raises(NoQrCode):
        desk(none, camera_of(SyntheticCamera(seed=0))).scan_ecard_qr(0.5)


def test_a_token_shown_moments_later_on_the_camera_is_read():
    none = Unavailable("scanner", "health.scanner.not_installed", "configured as none")
    camera = camera_of(SyntheticCamera(seed=0, realtime=True))
    threading.Timer(0.3, camera.show_qr, args=(TOKEN,)).start()
    try:
        assert desk(none, camera).scan_ecard_qr(3.0) == TOKEN
    finally:
        camera.close()


def test_the_camera_scan_is_previewed_while_it_looks_and_forgotten_after():
    """The screen shows the frame the camera is decoding (the citizen aims the phone by it); no
    frame is held before or after the scan (it is a picture of the citizen)."""
    none = Unavailable("scanner", "health.scanner.not_installed", "configured as none")
    camera = camera_of(SyntheticCamera(seed=0, realtime=True))
    d = desk(none, camera)
    seen: list[object] = []

    def look() -> None:
        time.sleep(0.4)
        seen.append(d.qr_preview())
        camera.show_qr(TOKEN)

    helper = threading.Thread(target=look)
    assert d.qr_preview() is None
    helper.start()
    try:
        assert d.scan_ecard_qr(3.0) == TOKEN
    finally:
        helper.join()
        camera.close()
    frame = seen[0]
    assert frame is not None and getattr(frame, "ndim", 0) == 3 and frame.shape[2] == 3
    assert d.qr_preview() is None


@pytest.mark.parametrize(("exc", "key", "retry"), [
    (NoQrCode(), "ecard.error.no_code", True),
    (NotAnEcardToken(), "ecard.error.not_token", True),
    (NoQrReader(), "ecard.error.no_reader", False),
    *[(EcardRefused(code), f"ecard.error.{code}", code != "token_revoked") for code in TOKEN_REFUSALS],
])
def test_each_error_is_explained_in_both_languages(exc, key, retry):
    explained = explain(exc)
    assert (explained.title, explained.body, explained.retry) == (f"{key}.title", f"{key}.body", retry)
    for lang in ("zh_CN", "en"):
        assert catalog(lang)[f"{key}.title"] and catalog(lang)[f"{key}.body"]
    assert catalog("zh_CN")["ecard.error.token_expired.body"] == "这个二维码已经过期了，请在手机上刷新后再扫。"
    assert catalog("en")["ecard.error.token_expired.body"] == \
        "This QR code has expired: refresh it on your phone and scan again."


def test_a_sign_in_cites_its_verification_and_masks_itself():
    signed = EcardSignIn("110105195803120029", "王秀英", "EV-0123456789ABCDEF", 1800)
    assert signed.assurance == Assurance("ecard_qr", verification_id="EV-0123456789ABCDEF")
    assert signed.assurance.to_json() == {"method": "ecard_qr", "verification_id": "EV-0123456789ABCDEF"}
    assert "110105195803120029" not in repr(signed) and "王秀英" not in repr(signed)
