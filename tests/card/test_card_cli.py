"""`kiosk card info` against the real stack: masked by default, exit 3 for a card that is not an SSC."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import CARD_READER, PSAM_READER


def run(*args):
    env = dict(os.environ, KIOSK_READER="sim", KIOSK_CARD_READER_NAME=CARD_READER,
               KIOSK_CARD_PSAM_READER_NAME=PSAM_READER, KIOSK_CONFIG="")
    return subprocess.run([sys.executable, "-m", "kiosk", "card", "info", "--wait", "5", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_card_info_is_masked_unless_asked(stack):
    stack.insert("activated")
    res = run("--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["id_number"] == "1101**********0029" and info["name"] == "王*英"
    assert info["generation"] == 3 and info["apdus"] > 0
    full = json.loads(run("--json", "--unmasked").stdout)
    assert full["id_number"] == "110105195803120029"


def test_card_info_refuses_a_bank_card_with_exit_3(stack):
    stack.insert("bank_only")
    res = run()
    assert res.returncode == 3
    assert "BankOnlyCard" in res.stderr and "Traceback" not in res.stderr
