"""Logs and the audit log to a USB stick, masked and signed, for a technician or the bureau
(`kiosk logs export --to DIR`, `kiosk logs verify DIR --cert PEM`; docs/runbook-provisioning.md).

On the stick, DIR/kiosk-logs-<kiosk id>-<UTC time>/:
  journal.jsonl        the kiosk units' journal (journalctl -o json), every text field masked
  audit.txt            the technician audit log, one entry a line, masked
  export.json          kiosk id, time, what each file holds (and why a source is missing)
  manifest.sha256      "<sha256>  <file>" for each file above (sha256sum -c reads it)
  manifest.sha256.sig  the kiosk's signature over manifest.sha256 with its TLS key (the
                       provisioning store's kiosk.key: ECDSA P-256/SHA-256 DER, or Ed25519)

The kiosk writes no log files of its own: its units log to journald (kiosk/runtime/logs.py).
Masking is kiosk/domain/masking.scrub_for_export: ID and account numbers, runs of Chinese
characters and name-like fields. The export is made in a hidden folder beside its final name
and renamed when complete, so a stick pulled out halfway never holds a half export that looks
whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kiosk.domain.masking import scrub_for_export
from kiosk.services.audit import AuditEntry

UNITS = ("kiosk.service", "kiosk-sync.service")
PREFIX = "kiosk-logs-"
JOURNAL, AUDIT, INFO = "journal.jsonl", "audit.txt", "export.json"
MANIFEST, SIGNATURE = "manifest.sha256", "manifest.sha256.sig"
FORMAT = 1


class ExportFailed(Exception):
    """Nothing usable was written (the reason is the message)."""


class NotVerified(Exception):
    """An export that does not verify: the message says which file or why."""


@dataclass(frozen=True)
class Exported:
    path: Path
    journal_entries: int | None  # None: no journal on this machine (the reason is in export.json)
    audit_entries: int | None
    signed: bool
    unsigned_why: str = ""


@dataclass(frozen=True)
class Verified:
    kiosk_id: str
    created: str
    files: tuple[str, ...]


# ------------------------------------------------------------------ masking of journal records

def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_for_export(value)
    if isinstance(value, list):
        if value and all(isinstance(b, int) and 0 <= b < 256 for b in value):
            # journald writes a field that is not UTF-8 text as an array of bytes
            return scrub_for_export(bytes(value).decode("utf-8", "replace"))
        return [_mask_value(v) for v in value]
    return value


def mask_journal_line(line: str) -> str:
    """One journalctl -o json record with every text field masked (a line that is not JSON is
    masked as text)."""
    try:
        record = json.loads(line)
    except ValueError:
        return json.dumps({"MESSAGE": scrub_for_export(line.rstrip("\n"))}, ensure_ascii=False)
    if not isinstance(record, dict):
        return json.dumps({"MESSAGE": scrub_for_export(line.rstrip("\n"))}, ensure_ascii=False)
    return json.dumps({k: _mask_value(v) for k, v in record.items()}, ensure_ascii=False)


# ------------------------------------------------------------------ sources

def journal_command(journal_dir: Path | None = None, since: str | None = None) -> list[str] | None:
    """The journalctl command line for the kiosk units, or None where there is no journalctl."""
    exe = shutil.which("journalctl")
    if exe is None:
        return None
    cmd = [exe, "-o", "json", "--no-pager", "--quiet"]
    for unit in UNITS:
        cmd += ["-u", unit]
    if journal_dir is not None:
        cmd.append(f"--directory={journal_dir}")
    if since:
        cmd.append(f"--since={since}")
    return cmd


def _write_journal(cmd: list[str], out: IO[str]) -> int:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", errors="replace")
    assert proc.stdout is not None and proc.stderr is not None
    count = 0
    for line in proc.stdout:
        if line.strip():
            out.write(mask_journal_line(line) + "\n")
            count += 1
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise ExportFailed(f"journalctl failed (exit {proc.returncode}): "
                           f"{scrub_for_export(err.strip())[:300] or 'no message'}")
    return count


def audit_entries(audit_db: Path) -> Iterator[AuditEntry]:
    """Every audit entry, oldest first, read without writing (a missing log is empty)."""
    if not audit_db.exists():
        return
    db = sqlite3.connect(f"file:{audit_db}?mode=ro", uri=True)
    try:
        for row in db.execute("SELECT id, at, clock_ok, event, detail FROM audit ORDER BY id"):
            yield AuditEntry(row[0], row[1], bool(row[2]), row[3], row[4])
    finally:
        db.close()


# ------------------------------------------------------------------ signing

def _sign(key_pem: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise ExportFailed(f"the kiosk key is a {type(key).__name__}: only EC and Ed25519 keys sign exports")


def _verify_signature(cert_pem: bytes, data: bytes, signature: bytes) -> str:
    """The certificate's subject CN, once the signature over data checks with its key."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise NotVerified(f"the certificate is not a PEM certificate ({exc})") from None
    public = cert.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, data)
        else:
            raise NotVerified(f"the certificate holds a {type(public).__name__}: not a kiosk key")
    except InvalidSignature:
        raise NotVerified(f"{SIGNATURE}: not signed by this certificate's key (or {MANIFEST} was changed)") from None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


# ------------------------------------------------------------------ export

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_tree(folder: Path, names: Iterable[str]) -> None:
    for name in names:
        with open(folder / name, "rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_key(key_file: Path | None) -> tuple[bytes | None, str]:
    """The key's PEM, or None and why it is missing."""
    if key_file is None:
        return None, "no kiosk key configured"
    try:
        return Path(key_file).read_bytes(), ""
    except OSError as exc:
        return None, f"the kiosk key {key_file} cannot be read ({exc.strerror or exc}): not provisioned?"


def _write_sources(work: Path, data_dir: Path, info: dict[str, Any], journal_dir: Path | None,
                   since: str | None) -> tuple[list[str], int | None, int | None]:
    """journal.jsonl and audit.txt into work; info says what each holds or why it is missing."""
    files: list[str] = []
    cmd = journal_command(journal_dir, since)
    journal_count: int | None = None
    if cmd is None:
        info["journal"] = "not exported: journalctl is not installed on this machine"
    else:
        with open(work / JOURNAL, "w", encoding="utf-8") as out:
            journal_count = _write_journal(cmd, out)
        info["journal"] = {"file": JOURNAL, "entries": journal_count, "source": "journalctl " + " ".join(cmd[1:])}
        files.append(JOURNAL)
    audit_db = Path(data_dir) / "audit.db"
    audit_count: int | None = None
    if audit_db.exists():
        audit_count = 0
        with open(work / AUDIT, "w", encoding="utf-8") as out:
            for entry in audit_entries(audit_db):
                out.write(f"{entry.id} {scrub_for_export(entry.line())}\n")
                audit_count += 1
        info["audit"] = {"file": AUDIT, "entries": audit_count}
        files.append(AUDIT)
    else:
        info["audit"] = f"not exported: no audit log at {audit_db}"
    return files, journal_count, audit_count


def export(data_dir: Path, kiosk_id: str, target: Path, key_file: Path | None,
           journal_dir: Path | None = None, since: str | None = None,
           now: dt.datetime | None = None) -> Exported:
    """Write the masked journal and audit log to target/kiosk-logs-<id>-<time>/, signed with
    key_file when it can be read (an unprovisioned kiosk has none: the export says so)."""
    target = Path(target)
    if not target.is_dir():
        raise ExportFailed(f"{target} is not a directory (is the stick mounted?)")
    now = now or dt.datetime.now(dt.UTC)
    stem = f"{PREFIX}{kiosk_id}-{now:%Y%m%dT%H%M%SZ}"
    name = next(n for n in (stem, *(f"{stem}-{i}" for i in range(2, 1000)))
                if not (target / n).exists())  # twice in one second: a second folder
    final, work = target / name, target / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        info: dict[str, Any] = {"format": FORMAT, "kiosk_id": kiosk_id, "created": now.isoformat(),
                                "masked": "ID and account numbers, Chinese text and name fields",
                                "units": list(UNITS)}
        files, journal_count, audit_count = _write_sources(work, data_dir, info, journal_dir, since)
        key_pem, unsigned_why = _read_key(key_file)
        info["signed"] = key_pem is not None
        if unsigned_why:
            info["unsigned_why"] = unsigned_why
        (work / INFO).write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        files.append(INFO)
        manifest = "".join(f"{_sha256(work / f)}  {f}\n" for f in files).encode()
        (work / MANIFEST).write_bytes(manifest)
        written = [*files, MANIFEST]
        if key_pem is not None:
            try:
                (work / SIGNATURE).write_bytes(_sign(key_pem, manifest))
            except ValueError as exc:
                raise ExportFailed(f"the kiosk key {key_file} cannot sign ({exc})") from None
            written.append(SIGNATURE)
        _fsync_tree(work, written)
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Exported(final, journal_count, audit_count, key_pem is not None, unsigned_why)


# ------------------------------------------------------------------ verify

def verify(folder: Path, cert_pem: bytes) -> Verified:
    """Check an export against the kiosk's certificate (as the bureau holds it): the signature
    over the manifest, every file's checksum, no file added, and the certificate's name is the
    export's kiosk id."""
    folder = Path(folder)
    try:
        manifest = (folder / MANIFEST).read_bytes()
    except OSError as exc:
        raise NotVerified(f"{MANIFEST}: cannot be read ({exc.strerror or exc})") from None
    try:
        signature = (folder / SIGNATURE).read_bytes()
    except OSError:
        raise NotVerified(f"{SIGNATURE}: missing: the export is not signed "
                          "(the kiosk was not provisioned when it was made)") from None
    cn = _verify_signature(cert_pem, manifest, signature)
    listed: dict[str, str] = {}
    for line in manifest.decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        if not name or "/" in name or name.startswith("."):
            raise NotVerified(f"{MANIFEST}: a line that is not '<sha256>  <file>': {line[:80]!r}")
        listed[name] = digest
    for name, digest in listed.items():
        path = folder / name
        if not path.is_file():
            raise NotVerified(f"{name}: listed in {MANIFEST} but missing")
        if _sha256(path) != digest:
            raise NotVerified(f"{name}: does not match its checksum (changed after the kiosk signed it)")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in {*listed, MANIFEST, SIGNATURE})
    if extra:
        raise NotVerified(f"files the kiosk did not sign: {', '.join(extra)}")
    try:
        info = json.loads((folder / INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotVerified(f"{INFO}: missing or not JSON") from None
    if info.get("kiosk_id") != cn:
        raise NotVerified(f"the export is {info.get('kiosk_id')!r}'s, the certificate is {cn!r}'s")
    return Verified(cn, str(info.get("created", "")), tuple(listed))
