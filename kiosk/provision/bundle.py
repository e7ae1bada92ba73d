"""The provisioning bundle: what the bureau puts on the USB stick for one kiosk, and the tool
that makes it (`kiosk provision bundle`, on the bureau's side).

On the stick (DIR):
  bundle.json                 {"format": 1, "kiosk_id", "bureau_url", "files": {name: sha256}}
  kiosk-ca.pem                the CA that signs kiosk certificates (the chain is checked to it)
  bureau-server-ca.pem        the bureau's server trust anchor (the kiosk pins it: sync.ca_file)
  bureau-sealing-public.pem   the bureau's X25519 sealing key (submissions are sealed to it)
  technician_pin_hash         this kiosk's technician PIN, scrypt-hashed (weak PINs refused here)
  kiosk.csr                   written by the kiosk (phase 1): its request, CN = kiosk id
  kiosk.pem                   put back by the bureau: the signed certificate (phase 2)

The checksums catch a stick that was corrupted or a file replaced by mistake; they are not a
signature: the stick is carried by the technician, as the runbook says.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiosk import provisioning
from kiosk.provision import checks
from kiosk.provision.checks import BundleError
from kiosk.schema import ConfigError

FORMAT = 1
MANIFEST = "bundle.json"
KIOSK_CA = "kiosk-ca.pem"
SERVER_CA = "bureau-server-ca.pem"
SEALING_KEY = "bureau-sealing-public.pem"
PIN_HASH = "technician_pin_hash"
REQUEST = "kiosk.csr"
CERTIFICATE = "kiosk.pem"
FILES = (KIOSK_CA, SERVER_CA, SEALING_KEY, PIN_HASH)


@dataclass(frozen=True)
class Bundle:
    """A bundle read from DIR with every file checked."""

    directory: Path
    kiosk_id: str
    bureau_url: str
    kiosk_ca: x509.Certificate
    files: dict[str, bytes]  # FILES -> their bytes, as installed

    @property
    def pin_hash(self) -> str:
        return self.files[PIN_HASH].decode().strip()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _identity(manifest: dict[str, object], field: str, key: str) -> str:
    value = manifest.get(field)
    if not isinstance(value, str):
        raise BundleError(f"{MANIFEST}: {field} missing")
    try:
        return str(provisioning.check(key, value, MANIFEST))
    except ConfigError as exc:
        raise BundleError(f"{MANIFEST}: {field}: {exc.problem}") from None


def _manifest(directory: Path) -> dict[str, object]:
    raw = checks.read_small(directory / MANIFEST)
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BundleError(f"{MANIFEST}: not JSON (a damaged or unfinished copy?)", "damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{MANIFEST}: not a provisioning bundle of format {FORMAT}")
    if not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{MANIFEST}: files missing")
    return manifest


def read(directory: Path) -> Bundle:
    """The bundle in directory, every file present, unchanged and of the right kind."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"{directory}: not a directory (is the stick mounted?)", "no_stick")
    manifest = _manifest(directory)
    kiosk_id = _identity(manifest, "kiosk_id", "kiosk.id")
    bureau_url = _identity(manifest, "bureau_url", "sync.bureau_url")
    listed = manifest["files"]
    assert isinstance(listed, dict)
    files: dict[str, bytes] = {}
    for name in FILES:
        data = checks.read_small(directory / name)
        if listed.get(name) != sha256(data):
            raise BundleError(f"{name}: does not match its checksum in {MANIFEST} "
                              "(changed or damaged since the bundle was made)", "damaged")
        files[name] = data
    return Bundle(directory, kiosk_id, bureau_url, _check_files(files), files)


def _check_files(files: dict[str, bytes]) -> x509.Certificate:
    """Every file of the bundle of the right kind; the kiosk CA, which the chain is checked to."""
    kiosk_ca = checks.ca_certificate(files[KIOSK_CA], KIOSK_CA)
    server_ca = checks.ca_certificate(files[SERVER_CA], SERVER_CA)
    if kiosk_ca.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) == \
            server_ca.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo):
        raise BundleError(f"{SERVER_CA}: the same key as {KIOSK_CA}: the bureau's server anchor "
                          "must not be the CA that signs kiosks")
    checks.sealing_key(files[SEALING_KEY], SEALING_KEY)
    try:
        text = files[PIN_HASH].decode("utf-8").strip()
        if not text:
            raise BundleError(f"{PIN_HASH}: empty")
        provisioning.check("maintenance.pin_hash", text, PIN_HASH)
    except UnicodeDecodeError:
        raise BundleError(f"{PIN_HASH}: not text") from None
    except ConfigError as exc:
        raise BundleError(f"{PIN_HASH}: {exc.problem}") from None
    return kiosk_ca


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """tmp, fsync, rename: a stick pulled out mid-write leaves the old file or none."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make(directory: Path, *, kiosk_id: str, bureau_url: str, kiosk_ca: bytes, server_ca: bytes,
         sealing_key: bytes, pin: str) -> Bundle:
    """Write a bundle for one kiosk into directory (created if missing; one that already holds
    a bundle is refused). The PIN is checked and hashed here; only its hash leaves."""
    from kiosk.domain.pin_rules import technician_pin_problem
    from kiosk.services.maintenance import hash_pin

    problem = technician_pin_problem(pin)
    if problem:
        raise BundleError(f"technician PIN refused: {problem}")
    directory = Path(directory)
    if (directory / MANIFEST).exists():
        raise BundleError(f"{directory}: already holds a bundle ({MANIFEST}); use an empty directory")
    files = {KIOSK_CA: kiosk_ca, SERVER_CA: server_ca, SEALING_KEY: sealing_key,
             PIN_HASH: f"{hash_pin(pin)}\n".encode()}
    _check_files(files)
    manifest = {"format": FORMAT, "kiosk_id": kiosk_id, "bureau_url": bureau_url,
                "files": {name: sha256(data) for name, data in files.items()}}
    _identity(manifest, "kiosk_id", "kiosk.id")
    _identity(manifest, "bureau_url", "sync.bureau_url")
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_file(directory / name, data)
    # The manifest last: a bundle cut short has none and is never taken for a whole one.
    write_file(directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return read(directory)
