"""`kiosk config set KEY VALUE` (issue 17 #5): the device keys a technician may change on site,
checked as `kiosk check-config` checks them, written atomically to the technician layer in the
data directory; everything else refused with nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk import config
from kiosk.cli import main
from kiosk.services.audit import AuditLog

SITE_KEYS = ("devices.printer", "devices.camera", "card.reader_name", "devices.idcard", "devices.scanner")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("KIOSK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KIOSK_CONFIG", "/dev/null")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_the_device_keys_are_technician_settings() -> None:
    assert all(config.KEYS[name].technician for name in SITE_KEYS)
    assert not config.KEYS["devices.gpio"].technician and not config.KEYS["sync.key_file"].technician


def test_config_set_saves_a_device_key_to_the_technician_layer(data: Path, capsys) -> None:
    """GIVEN a kiosk with its USB printer default WHEN the technician sets a network printer and a
    reader name THEN both are in the technician layer, the next start reads them from it, and the
    audit log has the change."""
    assert main(["config", "set", "devices.printer", "tcp:10.0.0.5:9100"]) == 0
    assert main(["config", "set", "card.reader_name", "ACS ACR39U"]) == 0
    assert "saved to" in capsys.readouterr().out
    cfg = config.load()
    assert cfg["devices.printer"] == "tcp:10.0.0.5:9100" and cfg.sources["devices.printer"] == "technician"
    assert cfg["card.reader_name"] == "ACS ACR39U"
    layer = config.read_toml(data / config.TECHNICIAN_LAYER_FILE)
    assert layer == {"devices.printer": "tcp:10.0.0.5:9100", "card.reader_name": "ACS ACR39U"}
    assert AuditLog(data / "audit.db").events().count("setting_changed") == 2


@pytest.mark.parametrize("key, value, why", [
    ("devices.printer", "usb:zz", "bad printer"),
    ("devices.camera", "webcam", "camera"),
    ("sync.key_file", "/tmp/key.pem", "may not be changed on site"),
    ("kiosk.id", "KIOSK-9999", "may not be changed on site"),
    ("devices.gpio", "mock", "may not be changed on site"),
    ("devices.nothing", "x", "unknown key"),
])
def test_config_set_refuses_with_nothing_written(data: Path, capsys, key: str, value: str, why: str) -> None:
    assert main(["config", "set", "devices.printer", "none"]) == 0
    before = (data / config.TECHNICIAN_LAYER_FILE).read_bytes()
    capsys.readouterr()
    assert main(["config", "set", key, value]) == 2
    assert why in capsys.readouterr().err
    assert (data / config.TECHNICIAN_LAYER_FILE).read_bytes() == before


def test_config_set_where_the_data_directory_cannot_be_written(tmp_path: Path, data: Path,
                                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "file" / "data"))
    assert main(["config", "set", "devices.printer", "none"]) == 3
    assert "nothing saved" in capsys.readouterr().err


def test_config_set_says_when_the_environment_overrides_it(data: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys) -> None:
    monkeypatch.setenv("KIOSK_PRINTER", "none")
    assert main(["config", "set", "devices.printer", "serial:/dev/ttyUSB0"]) == 0
    assert "KIOSK_PRINTER overrides it" in capsys.readouterr().out
    assert config.read_toml(data / config.TECHNICIAN_LAYER_FILE) == {"devices.printer": "serial:/dev/ttyUSB0"}
