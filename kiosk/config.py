"""The layered configuration loader, built from the one schema in kiosk/schema.py.

Layers, lowest to highest: built-in defaults < /etc/kiosk/kiosk.toml (or --config PATH)
< bureau-pushed settings (data dir) < technician settings (data dir) < KIOSK_* environment.
The commented default file, validation, `kiosk check-config` and the maintenance settings
page are all generated from SCHEMA.
"""

from __future__ import annotations

import logging
import os
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config_files import atomic_write as atomic_write  # re-exported: callers use config.X
from kiosk.config_files import comment_text as comment_text
from kiosk.config_files import read_toml as read_toml
from kiosk.config_files import render_toml as render_toml
from kiosk.schema import (  # re-exported: callers use config.Key, config.SCHEMA
    SCHEMA,
    ConfigError,
    Key,
    check_rules,
)

SYSTEM_CONFIG = Path("/etc/kiosk/kiosk.toml")
BUREAU_LAYER_FILE = "bureau-settings.toml"
TECHNICIAN_LAYER_FILE = "technician-settings.toml"

LAYER_DEFAULT = "default"
LAYER_FILE = "file"
LAYER_BUREAU = "bureau"
LAYER_TECHNICIAN = "technician"
LAYER_ENV = "env"
LAYER_PROVISIONING = "provisioning"

log = logging.getLogger(__name__)

KEYS: Mapping[str, Key] = {k.name: k for k in SCHEMA}


@dataclass(frozen=True)
class Config:
    """Resolved configuration: every key's value and the layer it came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    # Layers set aside and provisioning items refused while loading: alerts for the technician.
    notices: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def with_overrides(self, overrides: Mapping[str, Any], layer: str = LAYER_ENV) -> Config:
        vals, srcs = dict(self.values), dict(self.sources)
        for name, raw in overrides.items():
            key = _lookup(name, f"<{layer}>")
            vals[name] = key.parse(raw, f"<{layer}>")
            srcs[name] = layer
        return Config(vals, srcs, self.notices)

    @property
    def data_dir(self) -> Path:
        return Path(self.values["kiosk.data_dir"])


def _lookup(name: str, source: str) -> Key:
    try:
        return KEYS[name]
    except KeyError:
        raise ConfigError(source, name, "unknown key") from None


def _apply(values: dict, origins: dict, flat: Mapping[str, Any], layer: str, source: str) -> None:
    """Parse one layer's values into `values`; origins[name] becomes where each came from."""
    for name, raw in flat.items():
        key = _lookup(name, source)
        if layer == LAYER_TECHNICIAN and not key.technician:
            raise ConfigError(source, name, "may not be changed in the technician settings")
        if layer == LAYER_BUREAU and not key.bureau:
            raise ConfigError(source, name, "may not be pushed by the bureau")
        values[name] = key.parse(raw, source)
        origins[name] = source


@dataclass
class _Resolved:
    """Every key's value, the layer it came from, and where exactly (file, variable) it came from."""

    values: dict[str, Any]
    layers: dict[str, str]
    origins: dict[str, str]

    def copy(self) -> _Resolved:
        return _Resolved(dict(self.values), dict(self.layers), dict(self.origins))

    def set(self, name: str, value: Any, layer: str, origin: str) -> None:
        self.values[name], self.layers[name], self.origins[name] = value, layer, origin


@dataclass
class _Below:
    """What lies under the data directory's layers, and the environment that goes over them."""

    resolved: _Resolved
    data_dir: Path
    env: dict[str, tuple[str, Any]]  # key -> (the variable that set it, its parsed value)
    notices: list[str]


def load(config_path: Path | None = None, environ: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None, set_aside: bool = True) -> Config:
    """Resolve every layer, then the rules between keys: what start-up accepts, `kiosk
    check-config` accepts. A missing system file is fine; a missing --config file is an error.

    Only the image's file, --sim overrides and KIOSK_* variables raise ConfigError. A bureau or
    technician layer that cannot be read, or whose values are refused, is set aside (renamed
    with a timestamp, unless set_aside is False) and the layers below it apply; the
    provisioning store supplies identity and secrets. Config.notices says what was passed over."""
    below = _layers_below(config_path, os.environ if environ is None else environ, overrides)
    skip: set[str] = set()
    while True:
        r = _resolve(below, skip, set_aside)
        try:
            check_rules(r.values, r.origins.__getitem__)
            return Config(r.values, r.layers, tuple(below.notices))
        except ConfigError as exc:
            blamed = Path(exc.source)
            if exc.source in skip or blamed.name not in (BUREAU_LAYER_FILE, TECHNICIAN_LAYER_FILE) \
                    or blamed.parent != below.data_dir:
                raise
            layer = LAYER_BUREAU if blamed.name == BUREAU_LAYER_FILE else LAYER_TECHNICIAN
            below.notices.append(_set_aside(blamed, layer, exc, set_aside))
            skip.add(exc.source)


def _layers_below(config_path: Path | None, environ: Mapping[str, str],
                  overrides: Mapping[str, Any] | None) -> _Below:
    """Defaults, the image's file, the command line's overrides and the provisioning store; the
    environment parsed (it may move the data directory, which holds the next layers)."""
    r = _Resolved({k.name: k.default for k in SCHEMA}, {k.name: LAYER_DEFAULT for k in SCHEMA},
                  {k.name: LAYER_DEFAULT for k in SCHEMA})
    path = config_path or Path(environ.get("KIOSK_CONFIG", "") or SYSTEM_CONFIG)
    explicit = config_path is not None or bool(environ.get("KIOSK_CONFIG"))
    if explicit or path.exists():
        flat = read_toml(path)
        _apply(r.values, r.origins, flat, LAYER_FILE, str(path))
        r.layers.update(dict.fromkeys(flat, LAYER_FILE))
    if overrides:  # e.g. --sim: below the data-dir layers and the environment
        _apply(r.values, r.origins, overrides, LAYER_DEFAULT, "<command line>")
        r.layers.update(dict.fromkeys(overrides, LAYER_FILE))

    env: dict[str, tuple[str, Any]] = {}
    for name, (env_name, raw) in _env_values(environ).items():
        source = f"environment {env_name}"  # the variable the technician actually set
        env[name] = (source, KEYS[name].parse(raw, source))
    data_dir = Path(env["kiosk.data_dir"][1] if "kiosk.data_dir" in env else r.values["kiosk.data_dir"])

    from kiosk import provisioning  # imports the schema only

    store = provisioning.read(data_dir)
    notices = [f"provisioning item refused: {p}" for p in store.problems]
    for name, value in store.values.items():
        r.set(name, value, LAYER_PROVISIONING, (store.sources or {})[name])
    return _Below(r, data_dir, env, notices)


def _resolve(below: _Below, skip: set[str], set_aside: bool) -> _Resolved:
    """The bureau's and the technician's layers over what lies below, then the environment. A
    layer that cannot be read or is refused is set aside and added to skip."""
    r = below.resolved.copy()
    for layer, fname in ((LAYER_BUREAU, BUREAU_LAYER_FILE), (LAYER_TECHNICIAN, TECHNICIAN_LAYER_FILE)):
        layer_path = below.data_dir / fname
        if str(layer_path) in skip or not layer_path.exists():
            continue
        seen = None
        try:
            seen = _inode(layer_path)
            flat = read_toml(layer_path)
            if layer == LAYER_TECHNICIAN:
                flat = _legacy_identity(flat, layer_path, below.data_dir, r.values, r.layers, r.origins)
            trial_v, trial_o = dict(r.values), dict(r.origins)
            _apply(trial_v, trial_o, flat, layer, str(layer_path))
        except ConfigError as exc:
            below.notices.append(_set_aside(layer_path, layer, exc, set_aside, seen))
            skip.add(str(layer_path))
            continue
        r.values, r.origins = trial_v, trial_o
        r.layers.update(dict.fromkeys(flat, layer))
    for name, (source, value) in below.env.items():
        r.set(name, value, LAYER_ENV, source)
    return r


def load_fallback(config_path: Path | None = None, environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Config:
    """What `kiosk run` runs on when load() refused the image's file or a KIOSK_* variable: every
    key of that file and every variable that is valid on its own (so the devices stay as
    configured), the command line's overrides and the provisioning store; enough for the
    out-of-service page and the maintenance menu. Never raises ConfigError."""
    environ = os.environ if environ is None else environ
    good_env: dict[str, str] = {}
    for name, (env_name, raw) in _env_values(environ).items():
        try:
            KEYS[name].parse(raw, env_name)
        except ConfigError:
            continue
        good_env[env_name] = raw
    good_file: dict[str, Any] = {}
    path = config_path or Path(environ.get("KIOSK_CONFIG", "") or SYSTEM_CONFIG)
    try:
        for name, raw in read_toml(path).items():
            try:
                good_file[name] = _lookup(name, str(path)).parse(raw, str(path))
            except ConfigError:
                continue
    except ConfigError:
        pass
    # A rule between keys may still fail on what is left: drop the file's keys, then the rest.
    for env, over in ((good_env, {**good_file, **(overrides or {})}), (good_env, dict(overrides or {})),
                      ({}, dict(overrides or {}))):
        try:
            return load(Path(os.devnull), environ=env, overrides=over, set_aside=False)
        except ConfigError:
            continue
    return load(Path(os.devnull), environ={}, set_aside=False)


def _legacy_identity(flat: dict[str, Any], path: Path, data_dir: Path, values: dict, layers: dict,
                     origins: dict) -> dict[str, Any]:
    """Earlier versions kept the kiosk id, bureau URL and PIN hash in the technician layer. Such a
    value moves to the provisioning store when the store has none (best effort: if the store
    cannot be written, it applies from memory), and is never read from the layer again."""
    from kiosk import provisioning

    rest = dict(flat)
    for name in [n for n in flat if n in provisioning.KEY_ITEMS]:
        raw = rest.pop(name)
        if layers.get(name) in (LAYER_PROVISIONING, LAYER_ENV):
            continue
        try:
            value = provisioning.check(name, raw, str(path))
        except ConfigError as exc:
            log.warning("event=legacy_identity_refused key=%s problem=%r", name, exc.problem)
            continue
        try:
            target = provisioning.write(data_dir, name, value)
            log.warning("event=legacy_identity_moved key=%s to=%s", name, target)
        except OSError as exc:
            log.warning("event=legacy_identity_not_moved key=%s error=%s", name, exc.strerror or exc)
        values[name], layers[name], origins[name] = value, LAYER_PROVISIONING, str(path)
    return rest


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _set_aside(path: Path, layer: str, exc: ConfigError, rename: bool, seen: int | None = None) -> str:
    """Move a bad layer file out of the way (its contents kept for the technician) and say so.
    seen: the inode that was read; a file the other process replaced meanwhile stays."""
    moved = ""
    if rename and seen is not None and _inode(path) != seen:
        moved = "(not moved: replaced meanwhile)"
    elif rename:
        target = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        try:
            os.rename(path, target)
            moved = str(target)
        except FileNotFoundError:
            moved = "(already moved)"  # the other process got there first
        except OSError as exc2:
            moved = f"(not moved: {exc2.strerror or exc2})"
    log.error("event=config_layer_set_aside layer=%s file=%s moved_to=%s problem=%r", layer, path,
              moved or "-", str(exc)[:300])
    return f"{layer} settings set aside ({exc}){' -> ' + moved if moved else ''}"


def _env_values(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """key -> (the environment variable that set it, its value)."""
    out: dict[str, tuple[str, str]] = {}
    for key in SCHEMA:
        for env_name in key.env_names:
            if env_name in environ:
                out[key.name] = (env_name, environ[env_name])
                break
    return out


def check_file(path: Path) -> dict[str, Any]:
    """Validate one layer file as start-up would (its keys, then the rules between keys over the
    defaults and this file); returns the file's parsed values."""
    values: dict[str, Any] = {k.name: k.default for k in SCHEMA}
    origins: dict[str, str] = {k.name: LAYER_DEFAULT for k in SCHEMA}
    flat = read_toml(path)
    _apply(values, origins, flat, LAYER_FILE, str(path))
    check_rules(values, origins.__getitem__)
    return {name: values[name] for name in flat}


# --- writing (the format itself: kiosk/config_files.py) -----------------------------------

def checked_layer_bytes(text: str, layer: str) -> bytes:
    """The layer file's bytes, after reading them back exactly as load() will: a file that would
    be set aside is never written (ConfigError instead)."""
    source = f"<new {layer} layer>"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"would not read back ({exc})") from None
    values: dict[str, Any] = {}
    flat = {f"{section}.{short}": v for section, body in doc.items() for short, v in body.items()}
    _apply(values, {}, flat, layer, source)
    return text.encode("utf-8")


def defaults_file() -> str:
    header = ("# Kiosk configuration: /etc/kiosk/kiosk.toml\n"
              "# Generated by `kiosk config --defaults`. Every key is shown with its default,\n"
              "# commented out. Above this file: the provisioning store (kiosk id, bureau URL,\n"
              "# technician PIN), bureau-pushed settings, technician settings (all in the data\n"
              "# directory), then KIOSK_* environment variables.\n\n")
    return header + render_toml({}, commented_defaults=True)


def save_technician_settings(data_dir: Path, changes: Mapping[str, Any]) -> Path:
    """Validate and merge changes into the technician layer, written atomically (tmp, fsync, rename).
    A current file that cannot be read is set aside first (the technician starts again from the
    layers below it); identity keys left there by an earlier version are dropped (they live in the
    provisioning store)."""
    path = data_dir / TECHNICIAN_LAYER_FILE
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = {n: v for n, v in read_toml(path).items() if n in KEYS and KEYS[n].technician}
            _apply({}, {}, current, LAYER_TECHNICIAN, str(path))
        except ConfigError as exc:
            _set_aside(path, LAYER_TECHNICIAN, exc, True)
            current = {}
    for name, raw in changes.items():
        key = _lookup(name, str(path))
        if not key.technician:
            raise ConfigError(str(path), name, "may not be changed in the technician settings")
        current[name] = key.parse(raw, str(path))
    atomic_write(path, checked_layer_bytes(render_toml(current), LAYER_TECHNICIAN))
    return path


def set_technician_setting(name: str, raw: Any, config_path: Path | None = None,
                           environ: Mapping[str, str] | None = None) -> tuple[Path, Config]:
    """`kiosk config set`: one key a technician may change on site, checked as `kiosk
    check-config` checks (type, range, device spec, then the rules between keys over every other
    layer), written atomically to the technician layer; returns its path and the new resolution.
    ConfigError, with nothing written, for an unknown key, one not allowed on site or a bad value."""
    source = "kiosk config set"
    key = _lookup(name, source)
    if not key.technician:
        raise ConfigError(source, name, "may not be changed on site (not a technician setting)")
    current = load(config_path, environ=environ, set_aside=False)
    values = dict(current.values)
    values[name] = key.parse(raw, source)
    check_rules(values, lambda n: source if n == name else current.sources.get(n, LAYER_DEFAULT))
    path = save_technician_settings(current.data_dir, {name: raw})
    return path, load(config_path, environ=environ, set_aside=False)
