"""`kiosk printer status` and `kiosk printer test`, run in-process against the simulator."""

from __future__ import annotations

import json
import logging

import pytest

from kiosk import cli

from .conftest import decoded


@pytest.fixture
def env(monkeypatch, tmp_path, sim):
    """Config from the environment only: this printer, a private data dir, no system file."""
    monkeypatch.setenv("KIOSK_PRINTER", f"tcp:127.0.0.1:{sim.port}")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIOSK_CONFIG", str(tmp_path / "kiosk.toml"))
    (tmp_path / "kiosk.toml").write_text('[kiosk]\nid = "KIOSK-0007"\n')
    logger = logging.getLogger("kiosk")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield monkeypatch
    logger.handlers[:], logger.level, logger.propagate = saved  # the CLI set up its own logging


@pytest.mark.parametrize(("state", "code"), [
    ("ok", 0), ("paper_near_end", 0), ("paper_out", 1), ("cover_open", 1), ("offline", 1)])
def test_status_json(env, sim, capsys, state, code):
    sim.set_state(state)
    assert cli.main(["printer", "status", "--json"]) == code
    facts = json.loads(capsys.readouterr().out)
    assert facts["ready"] is (code == 0)
    assert facts["paper"] == {"paper_near_end": "near_end", "paper_out": "out"}.get(state, "ok")
    assert facts["cover_open"] is (state == "cover_open")


def test_status_text(env, sim, capsys):
    sim.set_state("paper_near_end")
    assert cli.main(["printer", "status"]) == 0
    out = capsys.readouterr().out
    assert "paper     near_end" in out and "health.printer.paper_near_end: 凭条打印纸即将用完" in out


def test_status_not_configured_and_bad_spec(env, capsys):
    env.setenv("KIOSK_PRINTER", "none")
    assert cli.main(["printer", "status"]) == 1
    assert "health.printer.not_installed" in capsys.readouterr().out
    env.setenv("KIOSK_PRINTER", "tcp:")
    assert cli.main(["printer", "status"]) == 2
    assert "devices.printer" in capsys.readouterr().err


def test_test_receipt_in_both_languages(env, sim, capsys):
    assert cli.main(["printer", "test"]) == 0
    zh, en = sim.wait_for_receipts(2)
    assert "打印机测试" in zh.text and "Printer test" in en.text
    assert zh.qr_payloads == en.qr_payloads and zh.qr_payloads[0].startswith("TEST-KIOSK0007-")
    assert decoded(zh.png) == list(zh.qr_payloads)
    assert capsys.readouterr().out.count(" printed reference=") == 2


def test_test_receipt_without_paper(env, sim, capsys):
    sim.set_state("paper_out")
    assert cli.main(["printer", "test"]) == 1
    out = capsys.readouterr().out
    assert "not printed reason=health.printer.paper_out when=before" in out
    assert "alert     printer health.printer.paper_out" in out and sim.receipts == []
