"""Configuration: one schema, five layers, one-line errors with exit code 2."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from kiosk import config
from kiosk.config import ConfigError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path):
    cfg = config.load(None, environ={"KIOSK_CONFIG": ""}, overrides={"kiosk.data_dir": str(tmp_path)})
    assert cfg["ui.language"] == "zh_CN"
    assert cfg.sources["ui.language"] == "default"


def test_layers_in_order_file_bureau_technician_env(tmp_path):
    data = tmp_path / "data"
    f = write(tmp_path / "kiosk.toml", f'[kiosk]\ndata_dir = "{data}"\nid = "K-FILE"\n'
                                       '[session]\ninactivity_s = 90\ncountdown_s = 30\n[ui]\nlanguage = "en"\n')
    write(data / config.BUREAU_LAYER_FILE, '[session]\ninactivity_s = 45\n[ui]\nlanguage = "zh_CN"\n')
    write(data / config.TECHNICIAN_LAYER_FILE, '[session]\ninactivity_s = 75\n')
    cfg = config.load(f, environ={"KIOSK_SESSION_COUNTDOWN_S": "12"})
    assert cfg["kiosk.id"] == "K-FILE" and cfg.sources["kiosk.id"] == "file"
    assert cfg["ui.language"] == "zh_CN" and cfg.sources["ui.language"] == "bureau"
    assert cfg["session.inactivity_s"] == 75.0 and cfg.sources["session.inactivity_s"] == "technician"
    assert cfg["session.countdown_s"] == 12.0 and cfg.sources["session.countdown_s"] == "env"


def test_device_keys_have_short_environment_names(tmp_path):
    cfg = config.load(None, environ={"KIOSK_READER": "none", "KIOSK_GPIO": "mock",
                                     "KIOSK_DATA_DIR": str(tmp_path)})
    assert cfg["devices.reader"] == "none" and cfg["devices.gpio"] == "mock"


@pytest.mark.parametrize("text, key, words", [
    ('[ui]\nlanguage = "fr"\n', "ui.language", "must be one of zh_CN, en"),
    ('[ui]\nfps = 500\n', "ui.fps", "at most 60"),
    ('[ui]\nfps = "fast"\n', "ui.fps", "expected int"),
    ('[ui]\nfullscreen = 1\n', "ui.fullscreen", "expected bool"),
    ('[ui]\nshiny = true\n', "ui.shiny", "unknown key"),
    ('[ui\nfps = 3\n', None, "not valid TOML"),
    ('fps = 3\n', "fps", "must sit in a [section]"),
])
def test_bad_values_name_the_key_and_the_problem(tmp_path, text, key, words):
    f = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        config.load(f, environ={})
    assert err.value.key == key
    assert words in str(err.value) and str(f) in str(err.value)
    assert "\n" not in str(err.value)


def test_technician_layer_with_a_key_a_technician_may_not_change_is_set_aside(tmp_path):
    """GIVEN a technician layer that sets sync.key_file WHEN the config loads THEN the file is
    renamed aside, the key keeps its default and the notice names the problem."""
    write(tmp_path / config.TECHNICIAN_LAYER_FILE, '[sync]\nkey_file = "/tmp/steal.key"\n')
    cfg = config.load(None, environ={"KIOSK_DATA_DIR": str(tmp_path)})
    assert cfg["sync.key_file"] == "/etc/kiosk/tls/kiosk.key"
    assert len(cfg.notices) == 1 and "may not be changed" in cfg.notices[0]
    assert not (tmp_path / config.TECHNICIAN_LAYER_FILE).exists()
    assert [p.name.split(".bad-")[0] for p in tmp_path.glob("*.bad-*")] == [config.TECHNICIAN_LAYER_FILE]


def test_bad_environment_value_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="KIOSK_UI_FPS"):
        config.load(None, environ={"KIOSK_UI_FPS": "many", "KIOSK_DATA_DIR": str(tmp_path)})


def test_technician_settings_are_saved_atomically_and_read_back(tmp_path):
    path = config.save_technician_settings(tmp_path, {"kiosk.region_code": "110105", "session.inactivity_s": 120})
    config.save_technician_settings(tmp_path, {"ui.language": "en"})
    assert tomllib.loads(path.read_text())["kiosk"]["region_code"] == "110105"
    cfg = config.load(None, environ={"KIOSK_DATA_DIR": str(tmp_path)})
    assert (cfg["kiosk.region_code"], cfg["session.inactivity_s"], cfg["ui.language"]) == ("110105", 120.0, "en")
    assert [p.name for p in tmp_path.iterdir()] == [config.TECHNICIAN_LAYER_FILE]  # no temp left
    with pytest.raises(ConfigError):
        config.save_technician_settings(tmp_path, {"session.inactivity_s": 5})  # below the minimum
    assert "120" in path.read_text()  # the bad change left the file as it was


def test_generated_default_file_documents_every_key_and_parses_to_the_defaults():
    text = config.defaults_file()
    for key in config.SCHEMA:
        assert f"# {key.short} = " in text and key.description in text
    setting = re.compile(r"^# [a-z_]+ = ")
    uncommented = "\n".join(line[2:] if setting.match(line) else ("" if line.startswith("#") else line)
                            for line in text.splitlines())
    values = {f"{s}.{k}": v for s, body in tomllib.loads(uncommented).items() for k, v in body.items()}
    assert values == {k.name: k.default for k in config.SCHEMA}


def kiosk(*args, env=None):
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, check=False,
                          timeout=60, env=env)


def test_cli_check_config_exit_codes(tmp_path):
    good = write(tmp_path / "good.toml", '[ui]\nlanguage = "en"\n')
    bad = write(tmp_path / "bad.toml", '[session]\ninactivity_s = -4\n')
    ok = kiosk("check-config", str(good))
    assert ok.returncode == 0 and "ok" in ok.stdout
    res = kiosk("check-config", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr
    assert "session.inactivity_s" in res.stderr and "at least 10" in res.stderr
    missing = kiosk("check-config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "file not found" in missing.stderr


def test_cli_walkthrough_with_a_bad_config_exits_2_without_traceback(tmp_path):
    # `kiosk run` itself stays up out of service instead (tests/test_config_safety.py).
    bad = write(tmp_path / "bad.toml", '[devices]\nreader = "magic"\n')
    res = kiosk("run", "--config", str(bad), "--walkthrough", str(tmp_path / "shots"))
    assert res.returncode == 2 and "devices.reader" in res.stderr and "Traceback" not in res.stderr


def test_cli_version_and_defaults():
    from kiosk import __version__

    assert kiosk("--version").stdout.strip() == f"kiosk {__version__}"
    res = kiosk("config", "--defaults")
    assert res.returncode == 0 and res.stdout == config.defaults_file()


# --- check-config says what start-up will say (issue 12): each of these once passed as "ok" ---

@pytest.mark.parametrize("text, key, words", [
    ('[devices]\nprinter = "lpt1"\n', "devices.printer", "unknown printer 'lpt1'"),
    ('[devices]\nprinter = "tcp:printer.local:99999"\n', "devices.printer", "bad port"),
    ('[devices]\ncamera = "webcam"\n', "devices.camera", "unknown camera 'webcam'"),
    ('[devices]\ncamera = "opencv:front"\n', "devices.camera", "bad camera index"),
    ('[devices]\ncamera = "synthetic:mode=hologram"\n', "devices.camera", "unknown synthetic camera mode"),
    ('[ui]\nresolution = "big"\n', "ui.resolution", "expected WIDTHxHEIGHT"),
    ('[sync]\nbureau_url = "not a url"\n', "sync.bureau_url", "expected https://HOST"),
    ('[sync]\nbureau_url = "http://bureau.example:8443"\n', "sync.bureau_url", "expected https://HOST"),
    ('[liveness]\ncue_delay_min_s = 4.5\ncue_delay_max_s = 2.0\n', "liveness.cue_delay_min_s",
     "must be at most liveness.cue_delay_max_s"),
    ('[liveness]\nmouth_open = 0.15\nmouth_closed = 0.2\n', "liveness.mouth_closed",
     "must be below liveness.mouth_open"),
    ('[gpio]\nbuzzer = 17\n', "gpio.buzzer", "BCM pin 17 is already gpio.status_led"),
    ('[session]\ninactivity_s = nan\n', "session.inactivity_s", "finite number"),
    ('[sync]\nheartbeat_s = inf\n', "sync.heartbeat_s", "finite number"),
])
def test_check_config_refuses_what_start_up_refuses(tmp_path, text, key, words):
    f = write(tmp_path / "kiosk.toml", text)
    with pytest.raises(ConfigError) as checked:
        config.check_file(f)
    assert checked.value.key == key and words in str(checked.value) and "\n" not in str(checked.value)
    with pytest.raises(ConfigError) as started:  # the loader `kiosk run` uses says the same
        config.load(f, environ={"KIOSK_DATA_DIR": str(tmp_path)})
    assert str(started.value) == str(checked.value)


def test_a_rule_between_keys_names_where_the_value_came_from(tmp_path):
    with pytest.raises(ConfigError) as err:
        config.load(None, environ={"KIOSK_LIVENESS_CUE_DELAY_MIN_S": "4.5", "KIOSK_DATA_DIR": str(tmp_path)})
    assert err.value.key == "liveness.cue_delay_min_s"
    assert err.value.source == "environment KIOSK_LIVENESS_CUE_DELAY_MIN_S"


def test_nan_from_the_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"KIOSK_SESSION_INACTIVITY_S: .*finite"):
        config.load(None, environ={"KIOSK_SESSION_INACTIVITY_S": "nan", "KIOSK_DATA_DIR": str(tmp_path)})


def test_a_technician_cannot_save_a_resolution_the_kiosk_cannot_use(tmp_path):
    with pytest.raises(ConfigError, match=r"ui\.resolution"):
        config.save_technician_settings(tmp_path, {"ui.resolution": "big"})
    config.save_technician_settings(tmp_path, {"ui.resolution": "1080x1920"})


def test_good_device_specs_pass(tmp_path):
    f = write(tmp_path / "kiosk.toml", '[devices]\nprinter = "serial:/dev/ttyUSB0:9600"\n'
                                       'camera = "synthetic:astronaut,mode=still,seed=3,realtime=0"\n'
                                       '[ui]\nresolution = "1920x1080"\n'
                                       '[sync]\nbureau_url = "https://bureau.example:8443/api"\n')
    assert len(config.check_file(f)) == 4


def test_check_config_on_a_directory_is_one_line_exit_2(tmp_path):
    res = kiosk("check-config", str(tmp_path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == f"kiosk: config error: {tmp_path}: is a directory, not a configuration file"


def test_check_config_accepts_a_file_saved_with_a_byte_order_mark(tmp_path):
    f = tmp_path / "notepad.toml"
    f.write_bytes(b"\xef\xbb\xbf" + b'[ui]\nlanguage = "en"\n')
    res = kiosk("check-config", str(f))
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
    assert config.load(f, environ={"KIOSK_DATA_DIR": str(tmp_path)})["ui.language"] == "en"
