"""`kiosk provision --from DIR` in two phases, and the store's all-or-nothing switch.

Phase 1 (no kiosk.pem on the stick): the kiosk's private key is made on the device, in
<data_dir>/provisioning-request/kiosk.key (mode 0600; it never leaves the device), and its
certificate request (CN = the bundle's kiosk id) is written to the stick as kiosk.csr. Run again,
it keeps the key it made and writes the same request: a request already at the bureau stays good.

Phase 2 (the bureau's kiosk.pem back on the stick): the certificate is checked against the
waiting key, the bundle's kiosk CA and kiosk id; then a complete new store is staged beside the
live one (<data_dir>/provisioning.staged-<pid>: the live store's files, then the bundle's) and
swapped in by one rename (renameat2 RENAME_EXCHANGE). Any failure before the swap removes the
staged copy and leaves the live store and the waiting key exactly as they were.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import grp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk import provisioning
from kiosk.provision import bundle as bundle_mod
from kiosk.provision import checks
from kiosk.provision.bundle import Bundle
from kiosk.provision.checks import BundleError

REQUEST_DIR = "provisioning-request"
KEY = "kiosk.key"
# Who owns what when root provisions (the image's first boot): everything root's, group
# kiosk-data so both units read the store; the key 0600, root's alone, as the image keeps it:
# systemd hands it to the sync unit as a credential (LoadCredential=, kiosk-sync.service).
# Elsewhere (tests, a technician's own account) the files stay the caller's.
STORE_GROUP = "kiosk-data"


@dataclass(frozen=True)
class Requested:
    """Phase 1 done: the request is on the stick; the key waits on the device."""

    kiosk_id: str
    request: Path
    reused_key: bool


@dataclass(frozen=True)
class Installed:
    """Phase 2 done: the store holds the new identity."""

    kiosk_id: str
    bureau_url: str
    not_after: dt.datetime
    store: Path


def request_dir(data_dir: Path) -> Path:
    return Path(data_dir) / REQUEST_DIR


def provision(data_dir: Path, stick: Path) -> Requested | Installed:
    """Phase 2 when the stick holds the signed certificate, phase 1 otherwise; one at a time."""
    found = bundle_mod.read(stick)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f"{provisioning.STORE_DIR}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (Path(stick) / bundle_mod.CERTIFICATE).exists():
            return install(data_dir, found)
        return request(data_dir, found)


def request(data_dir: Path, found: Bundle) -> Requested:
    key, reused = _waiting_key(data_dir)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, found.kiosk_id)]))
           .sign(key, hashes.SHA256()))
    pem = csr.public_bytes(serialization.Encoding.PEM)
    target = found.directory / bundle_mod.REQUEST
    try:
        bundle_mod.write_file(target, pem)
    except OSError as exc:  # the key stays: the next try writes the same request
        raise BundleError(f"{bundle_mod.REQUEST}: cannot be written to {found.directory} "
                          f"({exc.strerror or exc}): is the stick full or write-protected?", "stick_write") from None
    return Requested(found.kiosk_id, target, reused)


def _waiting_key(data_dir: Path) -> tuple[ec.EllipticCurvePrivateKey, bool]:
    """The key phase 1 made earlier, or a new one (EC P-256) written with mode 0600."""
    path = request_dir(data_dir) / KEY
    if path.exists():
        return checks.private_key(path.read_bytes(), str(path)), True
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    bundle_mod.write_file(path, _key_pem(key), mode=0o600)
    _fsync_dir(path.parent)
    return key, False


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _candidate_keys(data_dir: Path) -> list[tuple[Path, ec.EllipticCurvePrivateKey]]:
    """The key waiting for its certificate, then the store's own (installing the same
    certificate again, say with a new PIN hash, needs no new request)."""
    out = []
    for path in (request_dir(data_dir) / KEY, provisioning.store_dir(data_dir) / KEY):
        if path.exists():
            out.append((path, checks.private_key(path.read_bytes(), str(path))))
    return out


def _spki(key: Any) -> bytes:
    der: bytes = key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def install(data_dir: Path, found: Bundle) -> Installed:
    data_dir = Path(data_dir)
    cert_pem = checks.read_small(found.directory / bundle_mod.CERTIFICATE)
    keys = _candidate_keys(data_dir)
    if not keys:
        raise BundleError(f"{bundle_mod.CERTIFICATE}: this kiosk has no key waiting for a "
                          "certificate; run phase 1 on this kiosk first", "no_request")
    try:
        cert_key = x509.load_pem_x509_certificate(cert_pem).public_key()
        key_path, key = next(((p, k) for p, k in keys if _spki(k.public_key()) == _spki(cert_key)),
                             keys[0])
    except ValueError:
        key_path, key = keys[0]  # kiosk_certificate() says what is wrong with it
    cert = checks.kiosk_certificate(cert_pem, bundle_mod.CERTIFICATE, kiosk_ca=found.kiosk_ca,
                                    kiosk_id=found.kiosk_id, public_key=key.public_key())
    items: dict[str, tuple[bytes, int]] = {
        "kiosk_id": (f"{found.kiosk_id}\n".encode(), 0o640),
        "bureau_url": (f"{found.bureau_url}\n".encode(), 0o640),
        "technician_pin_hash": (f"{found.pin_hash}\n".encode(), 0o640),
        KEY: (_key_pem(key), 0o600),
        "kiosk.pem": (cert_pem, 0o644),
        "bureau-server-ca.pem": (found.files[bundle_mod.SERVER_CA], 0o644),
        "kiosk-ca.pem": (found.files[bundle_mod.KIOSK_CA], 0o644),
        "bureau-sealing-public.pem": (found.files[bundle_mod.SEALING_KEY], 0o644),
    }
    staged = _stage(data_dir, items)
    try:
        _switch(data_dir, staged)
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # the new store failed, or the old one
    if key_path.parent == request_dir(data_dir):
        shutil.rmtree(key_path.parent, ignore_errors=True)
    return Installed(found.kiosk_id, found.bureau_url, cert.not_valid_after_utc,
                     provisioning.store_dir(data_dir))


def _stage(data_dir: Path, items: dict[str, tuple[bytes, int]]) -> Path:
    """A complete store beside the live one: its files copied, then items over them, synced."""
    live = provisioning.store_dir(data_dir)
    staged = data_dir / f"{provisioning.STORE_DIR}.staged-{os.getpid()}"
    for old in data_dir.glob(f"{provisioning.STORE_DIR}.staged-*"):
        shutil.rmtree(old, ignore_errors=True)  # left by a provisioning that died
    staged.mkdir(mode=0o750)
    try:
        if live.is_dir():
            for path in live.iterdir():
                if path.is_file() and not path.is_symlink() and path.name not in items:
                    shutil.copy2(path, staged / path.name)
        for name, (data, mode) in items.items():
            bundle_mod.write_file(staged / name, data, mode)
            os.chmod(staged / name, mode)
        _own(staged)
        _fsync_dir(staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return staged


def _own(staged: Path) -> None:
    if os.geteuid() != 0:
        return
    with contextlib.suppress(KeyError):
        gid = grp.getgrnam(STORE_GROUP).gr_gid
        for path in (staged, *staged.iterdir()):
            os.chown(path, 0, gid)


def _switch(data_dir: Path, staged: Path) -> None:
    """The staged store becomes the live one in one step; the old one ends up at staged."""
    live = provisioning.store_dir(data_dir)
    if live.exists():
        _exchange(staged, live)
    else:
        os.rename(staged, live)
    _fsync_dir(data_dir)


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories atomically (Linux renameat2); where the file system cannot, the
    live store is moved aside and the new one put in its place, the old one back on failure."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(b))
    aside = b.with_name(f"{b.name}.old-{os.getpid()}")
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
