"""The `kiosk` command's package (kiosk/cli/): every entry point lists the same commands, a missing
third-party library leaves its command out, and a kiosk module that fails to import says so."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk import cli
from tests.conftest import ROOT

COMMANDS = ["run", "check-config", "config", "sync", "printer", "maintenance", "liveness", "card", "provision", "queue",
            "idcard", "logs", "update", "stick"]


def _commands(help_text: str) -> list[str]:
    block = help_text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return [line.split()[0] for line in block.splitlines() if line.startswith("    ") and line.split()
            and not line.startswith("     ")]


@pytest.mark.parametrize("argv", [[sys.executable, "-m", "kiosk"], [sys.executable, "-m", "kiosk.cli"],
                                  [str(ROOT / ".venv" / "bin" / "kiosk")]])
def test_every_entry_point_lists_every_command(argv):
    res = subprocess.run([*argv, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert _commands(res.stdout) == COMMANDS


def test_the_sync_commands_run_on_their_own():
    res = subprocess.run([sys.executable, "-m", "kiosk.cli.sync", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and "retry-dead" in res.stdout, res.stderr


def test_a_missing_library_leaves_its_command_out_and_a_broken_kiosk_module_says_so(tmp_path, monkeypatch):
    """GIVEN a command module whose third-party library is absent THEN the other commands stay;
    GIVEN one that imports a kiosk module that does not exist THEN building the parser fails."""
    (tmp_path / "cmd_needs_a_library.py").write_text("import no_such_library_for_this_test\n")
    (tmp_path / "cmd_with_a_bug.py").write_text("import kiosk.no_such_module_for_this_test\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("cmd_needs_a_library", "kiosk.cli.sync"))
    assert _commands(cli._parser().format_help()) == ["run", "check-config", "config", "sync"]
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("cmd_with_a_bug", "kiosk.cli.sync"))
    with pytest.raises(ModuleNotFoundError, match=r"kiosk\.no_such_module_for_this_test"):
        cli._parser()
