"""Issue 13, findings 3, 4, 5 and 12 without the network: layer files that always read back, bad
layers set aside, identity in the provisioning store, a refused image config that keeps the UI up,
and weak technician PINs refused. The push path with the real daemon is tests/sync/test_config_push.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import config
from kiosk.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
GOOD_PIN = "40271593"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load(data: Path, **env: str) -> config.Config:
    return config.load(None, environ={"KIOSK_DATA_DIR": str(data), **env})


# --- finding 3: what the daemon writes always reads back ----------------------------------------

@settings(max_examples=150, deadline=None)
@given(name=st.text(max_size=40), version=st.text(max_size=40))
def test_any_pushed_text_gives_a_layer_that_loads(tmp_path_factory, name, version):
    """GIVEN any bureau_name and any kiosk-config version the bureau may send WHEN the daemon
    writes the bureau layer THEN config.load reads it: the name either applies exactly as sent or
    is refused before the file is written; never a file that stops the kiosk."""
    from kiosk.sync.reference_data import bureau_layer, render_bureau_layer

    data = tmp_path_factory.mktemp("d")
    values = bureau_layer({"kiosk.bureau_name": name}, log_drops=False)
    config.atomic_write(data / config.BUREAU_LAYER_FILE, render_bureau_layer(values, version))
    cfg = load(data)
    assert cfg.notices == ()
    if values:
        assert cfg["kiosk.bureau_name"] == name and cfg.sources["kiosk.bureau_name"] == "bureau"
    else:
        assert any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in name)


# --- findings 3 and 4: a bad layer is set aside, the layers below apply --------------------------

def test_bad_layers_are_set_aside_and_the_layers_below_apply(tmp_path):
    """GIVEN an image file with inactivity 90 s, a bureau layer that is not TOML and a technician
    layer with session.inactivity_s = nan WHEN the config loads (as the UI and the daemon do) THEN
    it does not raise: both files are renamed aside with a timestamp, each named in a notice, and
    the image's 90 s applies."""
    data = tmp_path / "data"
    image = write(tmp_path / "kiosk.toml", f'[kiosk]\ndata_dir = "{data}"\n[session]\ninactivity_s = 90\n')
    write(data / config.BUREAU_LAYER_FILE, b'[kiosk]\nbureau_name = "a\rb"\n')
    write(data / config.TECHNICIAN_LAYER_FILE, "[session]\ninactivity_s = nan\n")
    cfg = config.load(image, environ={})
    assert cfg["session.inactivity_s"] == 90.0 and cfg.sources["session.inactivity_s"] == "file"
    assert len(cfg.notices) == 2
    assert "not valid TOML" in cfg.notices[0] and "must be a finite number" in cfg.notices[1]
    names = sorted(p.name.split(".bad-")[0] for p in data.glob("*.bad-*"))
    assert names == [config.BUREAU_LAYER_FILE, config.TECHNICIAN_LAYER_FILE]
    assert not (data / config.BUREAU_LAYER_FILE).exists()
    assert config.load(image, environ={}).notices == ()  # set aside once, not at every start


def test_setting_the_technician_layer_aside_keeps_the_technician_pin(tmp_path):
    """GIVEN a technician PIN set with `kiosk maintenance set-pin`'s store and a technician layer
    that goes bad WHEN the layer is set aside THEN the PIN still opens the menu."""
    from kiosk import provisioning
    from kiosk.services.maintenance import verify_pin

    provisioning.set_technician_pin(tmp_path, GOOD_PIN)
    config.save_technician_settings(tmp_path, {"session.inactivity_s": 120})
    write(tmp_path / config.TECHNICIAN_LAYER_FILE, "[session]\ninactivity_s = inf\n")
    cfg = load(tmp_path)
    assert cfg.notices and cfg["session.inactivity_s"] == 60.0
    assert verify_pin(GOOD_PIN, cfg["maintenance.pin_hash"])


def test_a_pin_hash_an_earlier_version_left_in_the_technician_layer_moves_to_the_store(tmp_path):
    from kiosk import provisioning
    from kiosk.services.maintenance import hash_pin, verify_pin

    hashed = hash_pin(GOOD_PIN)
    write(tmp_path / config.TECHNICIAN_LAYER_FILE, f'[maintenance]\npin_hash = "{hashed}"\n[ui]\nlanguage = "en"\n')
    cfg = load(tmp_path)
    assert cfg.notices == () and cfg["ui.language"] == "en" and verify_pin(GOOD_PIN, cfg["maintenance.pin_hash"])
    assert provisioning.item_path(tmp_path, "maintenance.pin_hash").read_text().strip() == hashed
    config.save_technician_settings(tmp_path, {"ui.language": "zh_CN"})  # the next save drops it
    assert "pin_hash" not in (tmp_path / config.TECHNICIAN_LAYER_FILE).read_text()
    assert verify_pin(GOOD_PIN, load(tmp_path)["maintenance.pin_hash"])


def test_a_bad_image_file_still_stops_check_config_and_load(tmp_path):
    image = write(tmp_path / "kiosk.toml", "[session]\ninactivity_s = nan\n")
    with pytest.raises(ConfigError, match="finite"):
        config.load(image, environ={"KIOSK_DATA_DIR": str(tmp_path)})


# --- finding 5: identity comes from provisioning only --------------------------------------------

@pytest.mark.parametrize("key, value", [("kiosk.id", "KIOSK-0042"),
                                        ("sync.bureau_url", "https://other.example:8443")])
def test_identity_keys_are_not_technician_settings_nor_pushable(tmp_path, key, value):
    """GIVEN a technician or a bureau push trying to set the kiosk id or the bureau URL THEN the
    technician's save is refused, the settings page does not offer it, and the push drops it."""
    from kiosk.screens.settings import technician_keys
    from kiosk.sync.reference_data import bureau_layer

    with pytest.raises(ConfigError, match="may not be changed in the technician settings"):
        config.save_technician_settings(tmp_path, {key: value})
    assert key not in {k.name for k in technician_keys()}
    assert bureau_layer({key: value}, log_drops=False) == {}
    assert not (tmp_path / config.TECHNICIAN_LAYER_FILE).exists()


def test_the_provisioning_store_holds_identity_below_the_environment(tmp_path):
    from kiosk import provisioning

    image = write(tmp_path / "kiosk.toml", f'[kiosk]\nid = "KIOSK-IMAGE"\ndata_dir = "{tmp_path}"\n')
    provisioning.write(tmp_path, "kiosk.id", "KIOSK-0042")
    provisioning.write(tmp_path, "sync.bureau_url", "https://bureau.example:8443/api")
    cfg = config.load(image, environ={})
    assert (cfg["kiosk.id"], cfg.sources["kiosk.id"]) == ("KIOSK-0042", "provisioning")
    assert cfg["sync.bureau_url"] == "https://bureau.example:8443/api"
    env = config.load(image, environ={"KIOSK_ID": "KIOSK-SIM", "KIOSK_SYNC_BUREAU_URL": "https://127.0.0.1:9"})
    assert (env["kiosk.id"], env["sync.bureau_url"]) == ("KIOSK-SIM", "https://127.0.0.1:9")


def test_an_http_bureau_url_is_refused_by_the_store(tmp_path):
    """GIVEN an http:// bureau URL THEN the store refuses to write it, and one placed by hand is
    not applied: the kiosk keeps the image's URL and a notice says why."""
    from kiosk import provisioning

    with pytest.raises(ConfigError, match="expected https://"):
        provisioning.write(tmp_path, "sync.bureau_url", "http://bureau.example:8443")
    write(provisioning.item_path(tmp_path, "sync.bureau_url"), "http://bureau.example:8443\n")
    cfg = load(tmp_path)
    assert cfg["sync.bureau_url"].startswith("https://") and cfg.sources["sync.bureau_url"] == "default"
    assert len(cfg.notices) == 1 and "expected https://" in cfg.notices[0]


# --- finding 3: only the image's file stops start-up, and the UI stays up -----------------------

def kiosk_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_") and k != "NOTIFY_SOCKET"}
    env.update(KIOSK_DATA_DIR=str(tmp_path / "data"), KIOSK_READER="none", KIOSK_CAMERA="none",
               KIOSK_PRINTER="none", KIOSK_GPIO="mock", KIOSK_SYNC_SOCKET_PATH=str(tmp_path / "none.sock"),
               SDL_VIDEODRIVER="offscreen", SDL_AUDIODRIVER="dummy", KIOSK_UI_FULLSCREEN="0",
               KIOSK_UI_RESOLUTION="800x480", **extra)
    return env


def test_a_refused_image_config_keeps_the_ui_up_out_of_service(tmp_path):
    """GIVEN an image config with a bad value WHEN `kiosk run` starts THEN it does not exit 2
    (systemd would restart it into the same error until the reboot limit): it runs its frames on
    the fallback config, says what is wrong in one line, and records it in the audit log."""
    image = write(tmp_path / "kiosk.toml", "[ui]\nfps = 500\n")
    res = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(image), "--frames", "10"],
                         cwd=ROOT, env=kiosk_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-600:]
    assert f"kiosk: config error: {image}: ui.fps: must be at most 60 (got 500); running out of service" \
        in res.stderr
    from kiosk.services.audit import AuditLog

    events = [e for e in AuditLog(tmp_path / "data" / "audit.db").recent(20) if "config_error" in str(e)]
    assert events


def test_the_out_of_service_page_names_the_problem_and_the_menu_still_opens(tmp_path):
    """GIVEN the UI built on the fallback config with a config problem THEN home is the
    out-of-service page and the corner gesture still opens the technician PIN prompt."""
    import pygame

    from kiosk.app import build
    from kiosk.runtime.clock import FakeClock
    from kiosk.screens import system

    pygame.font.init()
    env = kiosk_env(tmp_path)
    cfg = config.load_fallback(Path(os.devnull), environ={k: v for k, v in env.items() if k.startswith("KIOSK_")})
    drawn: list[tuple[str, dict]] = []
    clock = FakeClock()
    kiosk = build(cfg, pygame.Surface((1280, 800)), clock=clock, start_monitor=False,
                  config_problem="/etc/kiosk/kiosk.toml: ui.fps: must be at most 60 (got 500)")
    try:
        ui = kiosk.ui
        real = ui.draw_text
        ui.draw_text = lambda surf, key, *a, **kw: (drawn.append((key, kw)), real(surf, key, *a, **kw))[1]
        ui.frame([])
        ui.frame([])
        assert isinstance(ui.screen, system.OutOfServiceScreen)
        assert ("oos.config_error", {"problem": "/etc/kiosk/kiosk.toml: ui.fps: must be at most 60 (got 500)"}) \
            in drawn
        for _ in range(cfg["maintenance.gesture_taps"]):
            ui.tap((20, 20))
            clock.advance(0.2)
            ui.frame([])
        assert ui.screen.name == "tech_pin"
    finally:
        kiosk.close()


# --- finding 12: weak technician PINs ------------------------------------------------------------

@pytest.mark.parametrize("pin", ["123456", "000000", "111111", "123123", "888888", "666666", "654321",
                                 "112233", "121212", "520520", "234567", "987654", "890123", "12341234"])
def test_weak_technician_pins_are_refused_by_the_rule(pin):
    from kiosk.domain.pin_rules import technician_pin_problem

    assert technician_pin_problem(pin)


@pytest.mark.parametrize("pin", [GOOD_PIN, "246810", "13572468", "975318"])
def test_ordinary_technician_pins_pass_the_rule(pin):
    from kiosk.domain.pin_rules import technician_pin_problem

    assert technician_pin_problem(pin) is None


@pytest.mark.parametrize("pin, words", [("123456", "straight run"), ("000000", "one digit repeated"),
                                        ("135135", "repeat a short block"), ("520520", "first ones anybody tries"), ("112233", "first ones anybody tries")])
def test_set_pin_refuses_a_weak_pin_with_one_line_and_exit_1(tmp_path, pin, words):
    """GIVEN `kiosk maintenance set-pin` given a weak PIN twice THEN it exits 1 with one line
    saying why, and no PIN is stored."""
    env = kiosk_env(tmp_path)
    res = subprocess.run([sys.executable, "-m", "kiosk", "maintenance", "set-pin", "--stdin"], cwd=ROOT,
                         env=env, input=f"{pin}\n{pin}\n", capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and words in res.stderr and "nothing changed" in res.stderr
    cfg = config.load(None, environ={"KIOSK_DATA_DIR": str(tmp_path / "data")})
    assert cfg["maintenance.pin_hash"] == ""


def test_the_fallback_keeps_every_good_key_of_the_refused_file(tmp_path):
    """GIVEN an image file with one bad key among good ones THEN the fallback the UI runs on keeps
    the good ones (the devices stay as configured) and drops only the bad one."""
    image = write(tmp_path / "kiosk.toml", '[devices]\nreader = "none"\nprinter = "none"\n[ui]\nresolution = "big"\n')
    with pytest.raises(ConfigError):
        config.load(image, environ={"KIOSK_DATA_DIR": str(tmp_path)})
    cfg = config.load_fallback(image, environ={"KIOSK_DATA_DIR": str(tmp_path), "KIOSK_UI_FPS": "many"})
    assert (cfg["devices.reader"], cfg["devices.printer"], cfg["ui.resolution"]) == ("none", "none", "auto")
    assert cfg["kiosk.data_dir"] == str(tmp_path) and cfg["ui.fps"] == 30
