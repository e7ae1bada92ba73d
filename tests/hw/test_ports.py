"""The device ports are real: every adapter is its Protocol (mypy holds it there through
kiosk/hw/conformance.py, the registry checks member names at run time), and the registry hands
out each port or an Unavailable that says why."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

from kiosk import config
from kiosk.hw import registry
from kiosk.hw.health import DeviceHealth, HealthState
from kiosk.hw.ports import Camera, CardReader, Device, Gpio, Printer
from tests.conftest import ROOT


@pytest.fixture
def cfg(tmp_path: Path) -> config.Config:
    return config.load(None, environ={}, overrides={"devices.gpio": "mock", "devices.reader": "none",
                                                     "devices.camera": "none", "devices.printer": "none",
                                                     "kiosk.data_dir": str(tmp_path / "data")})


def test_every_adapter_is_its_port_at_run_time(cfg, tmp_path):
    import cv2
    from escpos.printer import Dummy

    from kiosk.hw.camera_opencv import OpenCvCamera
    from kiosk.hw.printer_escpos import EscposPrinter, PrinterSpec
    from kiosk.hw.reader_pcsc import PcscReader

    still = tmp_path / "face.png"
    cv2.imwrite(str(still), np.full((48, 64, 3), 128, np.uint8))
    gpio = registry.open_gpio(cfg)
    devices: list[tuple[object, type]] = [
        (PcscReader("no such reader"), CardReader),  # opening touches no PC/SC until asked
        (EscposPrinter(PrinterSpec.parse("tcp:127.0.0.1:9"), backend=Dummy()), Printer),
        (OpenCvCamera(still, realtime=False), Camera),
        (gpio, Gpio),
    ]
    try:
        for device, port in devices:
            assert isinstance(device, port), f"{device!r} is not a {port.__name__}"
            assert isinstance(device, Device)
    finally:
        for device, _ in devices:
            device.close()


def test_the_synthetic_camera_is_a_camera_through_the_registry(cfg):
    camera = registry.open_device("camera", "synthetic:fps=20,realtime=0", cfg)
    with camera:
        assert isinstance(camera, Camera) and not isinstance(camera, registry.Unavailable)
        frame = next(iter(camera.frames()))
        assert frame.rgb.ndim == 3 and frame.rgb.shape[2] == 3
        camera.cue(object())  # the port's hook: the synthetic subject takes it


def test_an_adapter_missing_a_member_of_its_port_is_closed_and_reported(cfg, monkeypatch, caplog):
    """GIVEN a camera module whose camera has no cue() and is no context manager
    WHEN the registry opens it
    THEN the kiosk gets an Unavailable camera naming why, and the half-camera is closed."""
    closed = []

    class HalfCamera:
        name = "camera"

        def frames(self):
            return iter(())

        def health(self) -> DeviceHealth:
            return DeviceHealth.ok()

        def close(self) -> None:
            closed.append(True)

    module = types.ModuleType("half_camera_adapter")
    module.open_camera = lambda spec, cfg: HalfCamera()
    monkeypatch.setitem(sys.modules, "half_camera_adapter", module)
    monkeypatch.setitem(registry.ADAPTERS["camera"], "file", ("half_camera_adapter", "open_camera"))
    with caplog.at_level("ERROR", logger="kiosk.hw.registry"):
        camera = registry.open_device("camera", "file:/dev/null", cfg)
    assert isinstance(camera, registry.Unavailable)
    health = camera.health()
    assert health.state is HealthState.OFFLINE and health.reason == "health.camera.driver_missing"
    assert health.detail == "HalfCamera is not a Camera"
    assert closed == [True]
    assert "event=adapter_refused device=camera spec=file:/dev/null adapter=HalfCamera port=Camera" in caplog.text


def test_a_device_configured_as_none_is_an_unavailable_device_and_context_manager(cfg):
    devices = registry.open_devices(cfg)
    with devices.reader as reader:
        assert isinstance(reader, registry.Unavailable) and isinstance(reader, Device)
        assert reader.health().reason == "health.reader.not_installed"
    assert isinstance(devices.gpio, Gpio)  # the mock pins are real gpiozero devices
    assert set(devices.all()) == {"reader", "camera", "printer", "gpio"}
    devices.close()


def test_gpio_beep_sounds_the_buzzer_that_many_times(cfg):
    gpio = registry.open_gpio(cfg)
    assert isinstance(gpio, Gpio)
    buzzer = gpio.factory.pin(cfg["gpio.buzzer"])
    buzzer.clear_states()
    gpio.beep(2)
    deadline = time.monotonic() + 5
    while len(buzzer.states) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [bool(s.state) for s in buzzer.states[:5]] == [False, True, False, True, False]
    gpio.close()


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")  # private: other runs of mypy may be writing theirs


def _conformance_errors(shadows: dict[str, str], tmp_path: Path, cache: Path) -> list[str]:
    """mypy's lines about kiosk/hw/conformance.py, with some adapters replaced by the texts given."""
    args = [sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir", str(cache)]
    for path, text in shadows.items():
        shadow = tmp_path / Path(path).name
        shadow.write_text(text, encoding="utf-8")
        args += ["--shadow-file", path, str(shadow)]
    res = subprocess.run([*args, "kiosk/hw/conformance.py"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    return [line for line in res.stdout.splitlines() if line.startswith("kiosk/hw/conformance.py")]


def test_mypy_fails_when_an_adapter_drifts_from_its_port(tmp_path, mypy_cache):
    """The drift this issue found (call_staff() against call_staff(now); a reader without
    wait_for_card), put back into copies of the real adapters: mypy names both at the check."""
    gpio = (ROOT / "kiosk/hw/gpio.py").read_text(encoding="utf-8")
    reader = (ROOT / "kiosk/hw/reader_pcsc.py").read_text(encoding="utf-8")
    assert "    def call_staff(self, now: float) -> None:" in gpio and "    def wait_for_card(" in reader
    conformance = _conformance_errors({
        "kiosk/hw/gpio.py": gpio.replace("    def call_staff(self, now: float) -> None:",
                                         "    def call_staff(self) -> None:\n        now = 0.0"),
        "kiosk/hw/reader_pcsc.py": reader.replace("    def wait_for_card(", "    def wait_for_a_card("),
    }, tmp_path, mypy_cache)
    text = "\n".join(conformance)
    assert '"GpioPanel"' in text and "def call_staff(self) -> None" in text, text
    assert '"PcscReader"' in text and "wait_for_card" in text, text


def test_mypy_finds_the_real_adapters_conform(tmp_path, mypy_cache):
    assert _conformance_errors({}, tmp_path, mypy_cache) == []
