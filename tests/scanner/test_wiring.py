"""The scanner in the kiosk: its config key, the registry and diagnostics, the health messages, and
the simulator's own command line and control lines."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kiosk import config
from kiosk.hw import registry
from kiosk.hw.health import HealthState
from kiosk.hw.ports import BarcodeScanner
from kiosk.hw.scanner_serial import SerialBarcodeScanner, open_line
from kiosk.i18n import catalog
from simulators.scanner import ControlServer, ScannerSim, command

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = tempfile.mkdtemp(prefix="scanner-cfg-")
NO_DEVICES = {"KIOSK_READER": "none", "KIOSK_CAMERA": "none", "KIOSK_PRINTER": "none", "KIOSK_GPIO": "mock"}


def load(**env: str) -> config.Config:
    return config.load(None, environ={"KIOSK_DATA_DIR": DATA_DIR, **env})


def test_the_key_defaults_to_none_says_hid_is_not_supported_and_refuses_a_bad_spec():
    assert load()["devices.scanner"] == "none"
    good = "serial:/dev/ttyACM0:115200,suffix=crlf,prefix=02"
    assert load(KIOSK_SCANNER=good)["devices.scanner"] == good
    key = next(k for k in config.SCHEMA if k.name == "devices.scanner")
    assert "Keyboard (HID) mode is not supported" in key.description
    for bad, words in (("hid:/dev/input/event3", "unknown scanner"), ("serial:", "expected serial:DEVICE"),
                       ("serial:/dev/ttyACM0,suffix=tab", "bad scanner option"), ("sim:x", "takes no argument")):
        with pytest.raises(config.ConfigError, match=words):
            load(KIOSK_SCANNER=bad)


def test_the_registry_opens_it_on_the_simulator_and_diagnostics_list_it(monkeypatch):
    with ScannerSim() as sim:
        monkeypatch.setenv("KIOSK_SIM_SCANNER_DEVICE", sim.device)
        devices = registry.open_devices(load(KIOSK_SCANNER="sim", **NO_DEVICES))
        try:
            assert isinstance(devices.scanner, BarcodeScanner)
            assert devices.all()["scanner"].health().state is HealthState.OK
            sim.scan("ESSC1.abc.def")
            assert devices.scanner.read_code(2.0) == "ESSC1.abc.def"
        finally:
            devices.close()
    none = registry.open_devices(load(**NO_DEVICES))
    assert "scanner" not in none.all() and none.scanner.health().reason == "health.scanner.not_installed"
    none.close()


def test_sim_without_a_device_starts_its_own_simulator(monkeypatch):
    monkeypatch.delenv("KIOSK_SIM_SCANNER_DEVICE", raising=False)
    scanner = registry.open_device("scanner", "sim", load())
    assert isinstance(scanner, SerialBarcodeScanner) and scanner.sim is not None
    try:
        scanner.sim.scan("hello")
        assert scanner.read_code(2.0) == "hello"
    finally:
        scanner.close()
    assert scanner.health().state is HealthState.OFFLINE


def test_a_port_that_cannot_be_opened_is_unavailable_with_its_reason():
    device = registry.open_device("scanner", "serial:/dev/no-such-tty", load())
    assert isinstance(device, registry.Unavailable) and device.health().reason == "health.scanner.failed"
    for reason in ("not_installed", "unsupported", "driver_missing", "failed", "offline"):
        assert f"health.scanner.{reason}" in catalog("zh_CN") and f"health.scanner.{reason}" in catalog("en")


def test_the_control_lines_scan_and_set_faults():
    with ScannerSim() as sim, SerialBarcodeScanner(open_line(sim.device, 9600), sim.device) as scanner:
        assert command(sim, "SCAN ESSC1.a b.c") == "OK scanned 11 characters"
        assert scanner.read_code(2.0) == "ESSC1.a b.c"
        assert command(sim, "SUFFIX crlf") == "OK" and command(sim, "PREFIX 02") == "OK"
        assert command(sim, "STATUS").startswith("OK suffix=crlf prefix=02 scans=1")
        for bad in ("FAULT smoke", "SUFFIX tab", "PREFIX zz", "SCAN", "JUMP"):
            assert command(sim, bad).startswith("ERR")
        assert command(sim, "HELP").endswith("\n.")


def test_the_simulator_runs_on_its_own_and_takes_control_lines_over_tcp():
    proc = subprocess.Popen([sys.executable, "-m", "simulators.scanner", "--suffix", "lf"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = proc.stdout.readline().split()
        assert ready[0] == "ready", ready
        device, port = ready[1].split("=", 1)[1], int(ready[2].split("=", 1)[1])
        with SerialBarcodeScanner(open_line(device, 9600), device) as scanner, \
                socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"SCAN ESSC1.over.tcp\n")
            assert sock.makefile().readline().strip() == "OK scanned 14 characters"
            assert scanner.read_code(2.0) == "ESSC1.over.tcp"
            started = time.monotonic()
            assert scanner.read_code(0.2) is None and time.monotonic() - started < 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0


def test_the_control_server_in_process():
    with ScannerSim() as sim:
        server = ControlServer(sim).start()
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(b"FAULT partial\nSTATUS\n")
                lines = sock.makefile()
                assert lines.readline().strip() == "OK fault partial"
                assert "faults=1" in lines.readline()
        finally:
            server.shutdown()
