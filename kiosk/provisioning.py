"""The provisioning store: this kiosk's identity and secrets, one validated file per item in
<data_dir>/provisioning/, written atomically. Not settings: no settings layer may change them, so a
layer set aside never takes the kiosk id, the bureau URL or the technician PIN with it.

Config resolution puts the store above the image's file and below KIOSK_* variables (KIOSK_ID and
KIOSK_SYNC_BUREAU_URL keep working for the simulators and tests).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.schema import SCHEMA, ConfigError

log = logging.getLogger(__name__)

STORE_DIR = "provisioning"
# File name in the store -> the config key it provides.
ITEMS: Mapping[str, str] = {
    "kiosk_id": "kiosk.id",
    "bureau_url": "sync.bureau_url",
    "technician_pin_hash": "maintenance.pin_hash",
}
KEY_ITEMS: Mapping[str, str] = {key: item for item, key in ITEMS.items()}
# Files `kiosk provision` installs (kiosk/provision/): file name in the store -> the config key
# that names it. Present, they take the place of the image's paths; their contents are checked
# when they are installed, and again by whoever loads them.
FILE_ITEMS: Mapping[str, str] = {
    "kiosk.pem": "sync.cert_file",
    "kiosk.key": "sync.key_file",
    "bureau-server-ca.pem": "sync.ca_file",
    "bureau-sealing-public.pem": "sync.bureau_public_key_file",
}
_KEYS = {k.name: k for k in SCHEMA}
MAX_BYTES = 4096


@dataclass(frozen=True)
class Provisioned:
    """What the store holds: config key -> value for every valid item, and one line per item
    that is there but refused (it does not apply; the layers below it do)."""

    values: Mapping[str, Any]
    problems: tuple[str, ...] = ()
    sources: Mapping[str, str] | None = None


def store_dir(data_dir: Path) -> Path:
    return Path(data_dir) / STORE_DIR


def item_path(data_dir: Path, key: str) -> Path:
    return store_dir(data_dir) / KEY_ITEMS[key]


def check(key: str, value: Any, source: str) -> Any:
    """The value as the config key parses it; ConfigError when it is not acceptable."""
    if key not in KEY_ITEMS:
        raise ConfigError(source, key, "not a provisioned item")
    return _KEYS[key].parse(value, source)


def read(data_dir: Path) -> Provisioned:
    """Every item present in the store; a missing store is an empty one."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    for item, key in ITEMS.items():
        path = store_dir(data_dir) / item
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{path}: cannot be read ({exc.strerror or exc})")
            continue
        try:
            if len(data) > MAX_BYTES:
                raise ConfigError(str(path), key, f"larger than {MAX_BYTES} bytes")
            try:
                text = data.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise ConfigError(str(path), key, "not UTF-8 text") from None
            values[key] = check(key, text, str(path))
            sources[key] = str(path)
        except ConfigError as exc:
            problems.append(str(exc))
    for item, key in FILE_ITEMS.items():
        path = store_dir(data_dir) / item
        if os.path.lexists(path):  # the key is the sync unit's alone: its name is enough here
            values[key], sources[key] = str(path), str(path)
    return Provisioned(values, tuple(problems), sources)


def write(data_dir: Path, key: str, value: Any) -> Path:
    """Validate and store one item atomically (tmp, fsync, rename, fsync the directory)."""
    path = item_path(data_dir, key) if key in KEY_ITEMS else store_dir(data_dir) / "?"
    parsed = check(key, value, str(path))
    from kiosk.config import atomic_write  # config imports this module

    atomic_write(path, f"{parsed}\n".encode())
    try:
        os.chmod(path, 0o640)  # the PIN hash is a secret: not for every user on the box
    except OSError:
        pass
    return path


def set_technician_pin(data_dir: Path, pin: str) -> Path:
    """The one way a technician PIN is set (the CLI, and the USB bundle later): weak PINs are
    refused with ValueError carrying one line for the technician."""
    from kiosk.domain.pin_rules import technician_pin_problem
    from kiosk.services.maintenance import hash_pin

    problem = technician_pin_problem(pin)
    if problem:
        raise ValueError(problem)
    return write(data_dir, "maintenance.pin_hash", hash_pin(pin))


def certificate_kiosk_id(cert_file: str | Path) -> str:
    """The subject CN of the kiosk's client certificate (PEM): the kiosk id the bureau sees."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
