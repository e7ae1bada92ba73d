"""Logs to a USB stick (issue 17 #5): the kiosk units' journal and the audit log, masked, signed
with the kiosk's key, and checked against its certificate; a changed file breaks the check.

journalctl is real on the kiosk but this machine's journal holds nothing of the kiosk's: a fake
`journalctl` first on PATH prints a fixture journal (as `journalctl -o json` prints it) and
records the arguments it was given."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from kiosk.services import log_export
from kiosk.services.audit import AuditLog

ID_NUMBER, NAME = "110105195803120029", "王秀英"
JOURNAL = [
    {"__REALTIME_TIMESTAMP": "1764600000000000", "_SYSTEMD_UNIT": "kiosk.service", "PRIORITY": "6",
     "MESSAGE": "level=info logger=kiosk.app event=started"},
    # a careless line: the ID number and the name in clear
    {"__REALTIME_TIMESTAMP": "1764600001000000", "_SYSTEMD_UNIT": "kiosk.service", "PRIORITY": "3",
     "MESSAGE": f"level=error logger=kiosk.flows event=lookup_failed id={ID_NUMBER} name={NAME}"},
    # journald writes a field that is not valid UTF-8 as an array of bytes
    {"__REALTIME_TIMESTAMP": "1764600002000000", "_SYSTEMD_UNIT": "kiosk-sync.service",
     "MESSAGE": [*f"holder={NAME} ".encode(), 0xFF]},
]


def fake_journalctl(bin_dir: Path, record: Path, lines: list[str], code: int = 0) -> None:
    bin_dir.mkdir(exist_ok=True)
    fixture = bin_dir / "journal.fixture"
    fixture.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    script = bin_dir / "journalctl"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\ncat {fixture}\n'
                      f'[ {code} -eq 0 ] || echo "Failed to open journal: permission denied" >&2\nexit {code}\n')
    script.chmod(0o755)


@pytest.fixture
def kiosk_key(tmp_path: Path) -> tuple[Path, bytes]:
    """An EC P-256 key and its certificate made out to KIOSK-0001, as `kiosk provision` installs."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "kiosk.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path, certificate(key, "KIOSK-0001")


def certificate(key, cn: str) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, algorithm))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def kiosk_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    data, stick, bin_dir = tmp_path / "data", tmp_path / "stick", tmp_path / "bin"
    stick.mkdir()
    audit = AuditLog(data / "audit.db")
    audit.append("maintenance_enter")
    audit.append("card_read_test", holder=NAME, id=ID_NUMBER)
    audit.close()
    fake_journalctl(bin_dir, tmp_path / "journalctl.args", [json.dumps(r, ensure_ascii=False) for r in JOURNAL])
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return {"data": data, "stick": stick, "bin": bin_dir, "args": tmp_path / "journalctl.args"}


def everything(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.iterdir())


def test_export_masks_the_id_number_and_the_name_and_verifies(kiosk_dir, kiosk_key) -> None:
    key, cert = kiosk_key
    done = log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], key)
    assert done.signed and done.journal_entries == 3 and done.audit_entries == 2
    assert done.path.parent == kiosk_dir["stick"] and done.path.name.startswith("kiosk-logs-KIOSK-0001-")
    text = everything(done.path)
    assert ID_NUMBER not in text and NAME not in text and "秀" not in text
    assert "1101**********0029" in text  # masked, not dropped: the technician still sees a record
    journal = [json.loads(line) for line in (done.path / log_export.JOURNAL).read_text().splitlines()]
    assert journal[0]["MESSAGE"] == "level=info logger=kiosk.app event=started"
    assert journal[0]["_SYSTEMD_UNIT"] == "kiosk.service" and isinstance(journal[2]["MESSAGE"], str)
    assert "card_read_test" in (done.path / log_export.AUDIT).read_text()
    args = kiosk_dir["args"].read_text().split()
    assert args[:2] == ["-o", "json"] and "kiosk.service" in args and "kiosk-sync.service" in args

    verified = log_export.verify(done.path, cert)
    assert verified.kiosk_id == "KIOSK-0001"
    assert set(verified.files) == {log_export.JOURNAL, log_export.AUDIT, log_export.INFO}


@pytest.mark.parametrize("tamper, why", [
    (lambda d: (d / log_export.JOURNAL).write_text((d / log_export.JOURNAL).read_text().replace("started", "stopped")),
     "journal.jsonl: does not match its checksum"),
    (lambda d: (d / log_export.AUDIT).unlink(), "audit.txt: listed in manifest.sha256 but missing"),
    (lambda d: (d / log_export.MANIFEST).write_text((d / log_export.MANIFEST).read_text() + "0" * 64 + "  x\n"),
     "not signed by this certificate's key"),
    (lambda d: (d / "extra.txt").write_text("planted"), "files the kiosk did not sign: extra.txt"),
    (lambda d: (d / log_export.SIGNATURE).unlink(), "missing: the export is not signed"),
])
def test_a_changed_export_does_not_verify(kiosk_dir, kiosk_key, tamper, why) -> None:
    key, cert = kiosk_key
    done = log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], key)
    tamper(done.path)
    with pytest.raises(log_export.NotVerified, match=why):
        log_export.verify(done.path, cert)


def test_another_kiosks_certificate_does_not_verify(kiosk_dir, kiosk_key) -> None:
    key, _ = kiosk_key
    done = log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], key)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(log_export.NotVerified, match="not signed by this certificate's key"):
        log_export.verify(done.path, certificate(other, "KIOSK-0001"))
    # the right key, but the certificate names another kiosk
    mine = serialization.load_pem_private_key(key.read_bytes(), None)
    with pytest.raises(log_export.NotVerified, match="the certificate is 'KIOSK-0002'"):
        log_export.verify(done.path, certificate(mine, "KIOSK-0002"))


def test_an_ed25519_key_signs_too(kiosk_dir, tmp_path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "ed.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    done = log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], path)
    assert log_export.verify(done.path, certificate(key, "KIOSK-0001")).kiosk_id == "KIOSK-0001"


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_the_runbooks_openssl_check_works(kiosk_dir) -> None:
    """The check in docs/runbook-provisioning.md without the kiosk package, run as written:
    openssl for the signature, sha256sum -c for the files; a changed file fails it."""
    import re

    key = ec.generate_private_key(ec.SECP256R1())
    key_file = kiosk_dir["stick"].parent / "kiosk-0042.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    now = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)
    done = log_export.export(kiosk_dir["data"], "KIOSK-0042", kiosk_dir["stick"], key_file, now=now)
    (kiosk_dir["stick"] / "KIOSK-0042.pem").write_bytes(certificate(key, "KIOSK-0042"))
    text = (Path(__file__).resolve().parents[1] / "docs" / "runbook-provisioning.md").read_text()
    step = text[text.index("kiosk package:", text.index("**Checking an export**")):]
    script = re.search(r"```sh\n(.*?)```", step, re.S)
    assert script and "openssl dgst" in script.group(1) and done.path.name in script.group(1)
    ok = subprocess.run(["bash", "-euc", script.group(1)], cwd=kiosk_dir["stick"], capture_output=True, text=True)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout + ok.stderr
    (done.path / log_export.AUDIT).write_text("changed\n")
    bad = subprocess.run(["bash", "-euc", script.group(1)], cwd=kiosk_dir["stick"], capture_output=True, text=True)
    assert bad.returncode != 0 and "audit.txt: FAILED" in bad.stdout


def test_without_journalctl_or_key_it_says_so(kiosk_dir, tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    done = log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], tmp_path / "no.key")
    assert done.journal_entries is None and not done.signed and "cannot be read" in done.unsigned_why
    info = json.loads((done.path / log_export.INFO).read_text())
    assert "journalctl is not installed" in info["journal"] and info["signed"] is False
    assert not (done.path / log_export.JOURNAL).exists() and not (done.path / log_export.SIGNATURE).exists()


def test_a_failing_journalctl_leaves_nothing_on_the_stick(kiosk_dir, kiosk_key) -> None:
    fake_journalctl(kiosk_dir["bin"], kiosk_dir["args"], [json.dumps(JOURNAL[0])], code=1)
    with pytest.raises(log_export.ExportFailed, match=r"journalctl failed \(exit 1\): Failed to open journal"):
        log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], kiosk_key[0])
    assert list(kiosk_dir["stick"].iterdir()) == []


def test_two_exports_in_one_second_make_two_folders(kiosk_dir, kiosk_key) -> None:
    now = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)
    first = log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], kiosk_key[0], now=now)
    second = log_export.export(kiosk_dir["data"], "KIOSK-0001", kiosk_dir["stick"], kiosk_key[0], now=now)
    assert first.path.name == "kiosk-logs-KIOSK-0001-20261201T180000Z" and second.path.name == first.path.name + "-2"
    assert log_export.verify(second.path, kiosk_key[1]).kiosk_id == "KIOSK-0001"


def test_the_command_signs_with_the_provisioning_stores_key(kiosk_dir, kiosk_key, monkeypatch, capsys) -> None:
    """GIVEN a provisioned kiosk (its key in <data_dir>/provisioning/, where `kiosk provision`
    installs it) WHEN `kiosk logs export` runs with no key named anywhere THEN the export is
    signed with that key and verifies against the kiosk's certificate."""
    from kiosk import provisioning
    from kiosk.cli import main

    for name in [n for n in os.environ if n.startswith("KIOSK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KIOSK_CONFIG", "/dev/null")
    monkeypatch.setenv("KIOSK_DATA_DIR", str(kiosk_dir["data"]))
    store = provisioning.store_dir(kiosk_dir["data"])
    store.mkdir()
    shutil.copyfile(kiosk_key[0], store / "kiosk.key")
    assert main(["logs", "export", "--to", str(kiosk_dir["stick"])]) == 0
    folder = next(kiosk_dir["stick"].iterdir())
    assert log_export.verify(folder, kiosk_key[1]).kiosk_id == "KIOSK-0001"
    assert "signed with this kiosk's key" in capsys.readouterr().out
