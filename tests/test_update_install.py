"""`kiosk update install --from DIR` (issue 17 #5): which bundle on the stick is handed to
`rauc install`, and what the technician is told.

The boundary is honest: rauc is not installed on this machine, so a fake `rauc` first on PATH
records the arguments it was given and answers as rauc would (exit 0, or exit 1 with its error).
That RAUC itself checks the signature and writes the other slot is `make test-image`'s part."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.services.audit import AuditLog


@pytest.fixture
def stick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIOSK_CONFIG", "/dev/null")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    path = tmp_path / "stick"
    path.mkdir()
    return path


def fake_rauc(stick: Path, code: int = 0, say: str = "Installing done.") -> Path:
    record = stick.parent / "rauc.args"
    script = stick.parent / "bin" / "rauc"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\necho "{say}" >&2\nexit {code}\n')
    script.chmod(0o755)
    return record


def test_the_one_bundle_goes_to_rauc_install(stick: Path, capsys) -> None:
    record = fake_rauc(stick)
    (stick / "kiosk-1.4.0.raucb").write_bytes(b"hsqs bundle")
    (stick / "._kiosk-1.4.0.raucb").write_bytes(b"macOS metadata")  # not a bundle
    (stick / "notes.txt").write_text("release notes")
    assert main(["update", "install", "--from", str(stick)]) == 0
    assert record.read_text().splitlines() == ["install", str((stick / "kiosk-1.4.0.raucb").resolve())]
    out = capsys.readouterr().out
    assert "kiosk-1.4.0.raucb installed into the other slot" in out and 'systemctl reboot "0 tryboot"' in out
    assert "update_installed" in AuditLog(stick.parent / "data" / "audit.db").events()


@pytest.mark.parametrize("files, why", [
    ({}, "no update bundle"),
    ({"a.raucb": b"x", "b.raucb": b"y"}, "2 update bundles"),
    ({"a.raucb": b""}, "is empty"),
])
def test_no_bundle_or_several_nothing_runs(stick: Path, capsys, files: dict[str, bytes], why: str) -> None:
    record = fake_rauc(stick)
    for name, data in files.items():
        (stick / name).write_bytes(data)
    assert main(["update", "install", "--from", str(stick)]) == 1
    assert why in capsys.readouterr().err and not record.exists()


def test_what_rauc_refuses_is_said_plainly(stick: Path, capsys) -> None:
    fake_rauc(stick, 1, "Failed to check bundle signature: signature verification failed")
    (stick / "kiosk-1.4.0.raucb").write_bytes(b"hsqs bundle")
    assert main(["update", "install", "--from", str(stick)]) == 1
    err = capsys.readouterr().err
    assert "nothing installed: rauc refused the bundle (exit 1)" in err and "signature verification failed" in err


def test_without_rauc_it_says_so(stick: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(stick.parent / "bin"))  # no rauc, even where one is installed
    (stick / "kiosk-1.4.0.raucb").write_bytes(b"hsqs bundle")
    assert main(["update", "install", "--from", str(stick)]) == 3
    assert "rauc is not installed on this machine" in capsys.readouterr().err


def test_the_service_commands_the_maintenance_menu_names_exist() -> None:
    """The system page names the stick procedures for a root shell; each must be a command."""
    from kiosk.cli import _parser
    from kiosk.services.diagnostics import SERVICE_COMMANDS

    sub = next(a for a in _parser()._actions if a.dest == "command")
    for command, action in SERVICE_COMMANDS:
        inner = next(a for a in sub.choices[command]._actions if getattr(a, "choices", None))
        assert action in inner.choices, (command, action)
