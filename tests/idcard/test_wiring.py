"""The ID card reader in the kiosk: its config key, the registry, diagnostics, the Desk, the error
messages, `kiosk idcard info`, and the simulator's own command line and control lines."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk import config
from kiosk.cli import main
from kiosk.hw import registry
from kiosk.hw.health import HealthState
from kiosk.hw.idcard_errors import (
    IdCardReaderFault,
    IdCardReaderUnavailable,
    IdCardRemoved,
    IdCardUnreadable,
    NoIdCard,
    SamUnavailable,
)
from kiosk.hw.ports import IdCardReader
from kiosk.i18n import catalog
from kiosk.services.errors import explain
from simulators.idcard import ControlServer, IdCardReaderSim

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = tempfile.mkdtemp(prefix="idcard-cfg-")  # no layer of anyone else's is read


def load(**env: str) -> config.Config:
    return config.load(None, environ={"KIOSK_DATA_DIR": DATA_DIR, **env})


def test_the_key_defaults_to_none_and_refuses_a_bad_spec():
    assert load()["devices.idcard"] == "none"
    assert load(KIOSK_IDCARD="serial:/dev/ttyUSB0:9600")["devices.idcard"] == "serial:/dev/ttyUSB0:9600"
    for bad, words in (("usb:1:2", "unknown idcard 'usb:1:2'"), ("serial:", "expected serial:DEVICE[:BAUD]"),
                       ("sim:fast", "'sim:fast' takes no argument")):
        with pytest.raises(config.ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
            load(KIOSK_IDCARD=bad)


def test_the_registry_opens_it_on_the_simulator_and_diagnostics_list_it(monkeypatch):
    with IdCardReaderSim("wang") as sim:
        monkeypatch.setenv("KIOSK_SIM_IDCARD_DEVICE", sim.device)
        cfg = load(KIOSK_IDCARD="sim", KIOSK_READER="none", KIOSK_CAMERA="none", KIOSK_PRINTER="none",
                   KIOSK_GPIO="mock")
        devices = registry.open_devices(cfg)
        try:
            assert isinstance(devices.idcard, IdCardReader)
            assert devices.all()["idcard"].health().state is HealthState.OK
            assert devices.idcard.read().id_number == "110105195803120029"
        finally:
            devices.close()
    none = registry.open_devices(load(KIOSK_READER="none", KIOSK_CAMERA="none", KIOSK_PRINTER="none",
                                      KIOSK_GPIO="mock"))
    assert "idcard" not in none.all() and none.idcard.health().reason == "health.idcard.not_installed"
    none.close()


def test_a_port_that_cannot_be_opened_is_unavailable_with_its_reason():
    device = registry.open_device("idcard", "serial:/dev/no-such-tty", load())
    assert isinstance(device, registry.Unavailable)
    assert device.health().reason == "health.idcard.failed"
    for reason in ("not_installed", "unsupported", "driver_missing", "failed", "offline", "no_reply", "sam_missing"):
        assert f"health.idcard.{reason}" in catalog("zh_CN") and f"health.idcard.{reason}" in catalog("en")


@pytest.mark.parametrize(("exc", "key", "retry"), [
    (NoIdCard(), "idcard.error.no_card", True),
    (IdCardRemoved(), "idcard.error.removed", True),
    (IdCardUnreadable(), "idcard.error.unreadable", True),
    (SamUnavailable(), "idcard.error.sam", False),
    (IdCardReaderFault(), "idcard.error.reader", False),
    (IdCardReaderUnavailable("health.idcard.not_installed"), "idcard.error.reader", False),
])
def test_each_error_has_a_plain_message_in_both_languages(exc, key, retry):
    explained = explain(exc)
    assert (explained.title, explained.body, explained.retry) == (f"{key}.title", f"{key}.body", retry)
    for lang in ("zh_CN", "en"):
        assert explained.title in catalog(lang) and explained.body in catalog(lang)


def desk_with(idcard: object, wait_s: float = 0.3):
    from kiosk.services.desk import Desk

    cfg = load(KIOSK_CARD_WAIT_S="5")
    services = SimpleNamespace(cfg=cfg, queries=None, devices=SimpleNamespace(idcard=idcard))
    desk = Desk(services)  # type: ignore[arg-type]
    desk.settings = type(desk.settings)(card_wait_s=wait_s)
    return desk


def test_the_desk_reads_an_id_card_or_says_why_not(monkeypatch):
    from kiosk.hw.idcard_serial import SerialIdCardReader, open_line

    with IdCardReaderSim() as sim:
        with SerialIdCardReader(open_line(sim.device, 115200), sim.device, poll_s=0.05) as reader:
            with pytest.raises(NoIdCard, match=r"no ID card within 0\.3 s"):
                desk_with(reader).read_id_card()
            sim.insert("chen_rare")
            data = desk_with(reader).read_id_card()
            assert data.name_has_rare_chars and data.expired(None) is None
    none = registry.Unavailable("idcard", "health.idcard.not_installed", "configured as none")
    with pytest.raises(IdCardReaderUnavailable) as caught:
        desk_with(none).read_id_card()
    assert caught.value.reason == "health.idcard.not_installed"
    assert explain(caught.value).title == "idcard.error.reader.title"


@pytest.fixture
def sim_env(monkeypatch, tmp_path):
    (tmp_path / "kiosk.toml").write_text('[kiosk]\nid = "KIOSK-0001"\n', encoding="utf-8")
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "kiosk.toml"))
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    with IdCardReaderSim() as sim:
        monkeypatch.setenv("KIOSK_IDCARD", f"serial:{sim.device}")
        yield sim


def test_idcard_info_prints_masked_then_unmasked(sim_env, capsys):
    sim_env.insert("chen_rare")
    assert main(["idcard", "info", "--json", "--wait", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["id_number"] == "3101**********0027" and out["name"] == "陈*" and out["name_has_rare_chars"]
    assert out["address"] == "上海市徐汇区…" and out["birth_date"] == "1988" and out["expired"] is False
    assert main(["idcard", "info", "--unmasked", "--wait", "2"]) == 0
    text = capsys.readouterr().out
    assert "id_number: 310104198807230027" in text and "name: 陈<U+E40C>" in text and "\ue40c" not in text


def test_idcard_info_exit_codes_blame_the_card_the_wait_or_the_reader(sim_env, capsys, monkeypatch):
    sim_env.insert("liu_expired")
    assert main(["idcard", "info", "--wait", "2"]) == 5
    assert "EXPIRED on 2020-02-14" in capsys.readouterr().out
    sim_env.insert("bad_check")
    assert main(["idcard", "info", "--wait", "2"]) == 3
    assert "could not be read: IdCardUnreadable" in capsys.readouterr().err
    sim_env.insert("wang")
    sim_env.fault("pull")
    assert main(["idcard", "info", "--wait", "2"]) == 3
    assert "moved away while it was read" in capsys.readouterr().err
    sim_env.remove()
    assert main(["idcard", "info", "--wait", "0.3"]) == 4
    assert "no ID card placed within 0.3 s" in capsys.readouterr().err
    sim_env.set_sam("missing")
    assert main(["idcard", "info", "--wait", "1"]) == 6
    assert "security module is not working" in capsys.readouterr().err
    monkeypatch.setenv("KIOSK_IDCARD", "none")
    assert main(["idcard", "info"]) == 6
    assert "no ID card reader: health.idcard.not_installed" in capsys.readouterr().err


def test_the_expiry_on_the_command_line_is_this_machines_date():
    from kiosk.cli.idcard import describe
    from kiosk.hw.idcard_model import IdCardData

    card = IdCardData("周桂兰", "female", "01", dt.date(1956, 12, 1), "湖北省武汉市武昌区中北路58号",
                      "420106195612010061", "武汉市公安局武昌分局", dt.date(2016, 6, 1), dt.date(2036, 6, 1))
    assert describe(card, False, dt.date(2036, 6, 1))["expired"] is False
    assert describe(card, False, dt.date(2036, 6, 2))["expired"] is True


def test_the_simulator_runs_on_its_own_with_help_and_control_lines(tmp_path):
    res = subprocess.run([sys.executable, "-m", "simulators.idcard", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=30, check=False)
    assert res.returncode == 0 and res.stdout.startswith("usage: python -m simulators.idcard ")
    assert "FAULT <name> [n]" in res.stdout
    with IdCardReaderSim() as sim:
        server = ControlServer(sim).start()
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
                f = conn.makefile("rw")
                for line, reply in (("INSERT zhou", "OK inserted zhou"), ("INSERT nobody", "ERR bad arguments"),
                                    ("FAULT corrupt 2", "OK"), ("FAULT melt", "ERR bad arguments"),
                                    ("SAM missing", "OK"), ("DELAY 50", "OK"),
                                    ("STATUS", "OK card=zhou sam=missing delay_ms=50 faults=corrupt,corrupt"),
                                    ("PERSONAS", "OK bad_check chen_rare liu_expired wang zhou"),
                                    ("CLEAR", "OK"), ("REMOVE", "OK removed"), ("STATUS", "OK card=empty sam=ok"),
                                    ("LAUNCH", "ERR unknown command LAUNCH")):
                    f.write(line + "\n")
                    f.flush()
                    assert f.readline().startswith(reply), line
        finally:
            server.shutdown()
