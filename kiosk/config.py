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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

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


def read_toml(path: Path) -> dict[str, Any]:
    """Read a layer file and flatten [section] key = value into {'section.key': value}."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, None, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, None, "is a directory, not a configuration file") from None
    except PermissionError:
        raise ConfigError(source, None, "permission denied") from None
    except OSError as exc:
        raise ConfigError(source, None, f"cannot be read ({exc.strerror or exc})") from None
    try:
        # utf-8-sig: editors on Windows save a byte-order mark that TOML itself does not allow.
        doc = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(source, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, None, f"not valid TOML ({exc})") from None
    flat: dict[str, Any] = {}
    for section, body in doc.items():
        if not isinstance(body, dict):
            raise ConfigError(source, section, "top-level keys must sit in a [section]")
        for short, value in body.items():
            if isinstance(value, dict):
                raise ConfigError(source, f"{section}.{short}", "nested tables are not used")
            flat[f"{section}.{short}"] = value
    return flat


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


def load(config_path: Path | None = None, environ: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None, set_aside: bool = True) -> Config:
    """Resolve every layer, then the rules between keys: what start-up accepts, `kiosk
    check-config` accepts. A missing system file is fine; a missing --config file is an error.

    Only the image's file, --sim overrides and KIOSK_* variables raise ConfigError. A bureau or
    technician layer that cannot be read, or whose values are refused, is set aside (renamed
    with a timestamp, unless set_aside is False) and the layers below it apply; the
    provisioning store supplies identity and secrets. Config.notices says what was passed over."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {k.name: k.default for k in SCHEMA}
    layers: dict[str, str] = {k.name: LAYER_DEFAULT for k in SCHEMA}
    origins: dict[str, str] = {k.name: LAYER_DEFAULT for k in SCHEMA}
    notices: list[str] = []

    path = config_path or Path(environ.get("KIOSK_CONFIG", "") or SYSTEM_CONFIG)
    explicit = config_path is not None or bool(environ.get("KIOSK_CONFIG"))
    if explicit or path.exists():
        flat = read_toml(path)
        _apply(values, origins, flat, LAYER_FILE, str(path))
        layers.update(dict.fromkeys(flat, LAYER_FILE))
    if overrides:  # e.g. --sim: below the data-dir layers and the environment
        _apply(values, origins, overrides, LAYER_DEFAULT, "<command line>")
        layers.update(dict.fromkeys(overrides, LAYER_FILE))

    env_layer = _env_values(environ)
    env_parsed: dict[str, tuple[str, Any]] = {}
    for name, (env_name, raw) in env_layer.items():
        source = f"environment {env_name}"  # the variable the technician actually set
        env_parsed[name] = (source, KEYS[name].parse(raw, source))
    # The data dir decides where the next layers live, so it may come from env too.
    data_dir = Path(env_parsed["kiosk.data_dir"][1] if "kiosk.data_dir" in env_parsed
                    else values["kiosk.data_dir"])

    from kiosk import provisioning  # imports the schema only

    store = provisioning.read(data_dir)
    notices += [f"provisioning item refused: {p}" for p in store.problems]
    for name, value in store.values.items():
        values[name], layers[name], origins[name] = value, LAYER_PROVISIONING, (store.sources or {})[name]
    base = (dict(values), dict(layers), dict(origins))

    def resolve(skip: set[str]) -> tuple[dict, dict, dict]:
        vals, lays, origs = dict(base[0]), dict(base[1]), dict(base[2])
        for layer, fname in ((LAYER_BUREAU, BUREAU_LAYER_FILE), (LAYER_TECHNICIAN, TECHNICIAN_LAYER_FILE)):
            layer_path = data_dir / fname
            if str(layer_path) in skip or not layer_path.exists():
                continue
            try:
                seen = _inode(layer_path)
                flat = read_toml(layer_path)
                if layer == LAYER_TECHNICIAN:
                    flat = _legacy_identity(flat, layer_path, data_dir, vals, lays, origs)
                trial_v, trial_o = dict(vals), dict(origs)
                _apply(trial_v, trial_o, flat, layer, str(layer_path))
            except ConfigError as exc:
                notices.append(_set_aside(layer_path, layer, exc, set_aside, seen))
                skip.add(str(layer_path))
                continue
            vals, origs = trial_v, trial_o
            lays.update(dict.fromkeys(flat, layer))
        for name, (source, value) in env_parsed.items():
            vals[name], lays[name], origs[name] = value, LAYER_ENV, source
        return vals, lays, origs

    skip: set[str] = set()
    while True:
        values, layers, origins = resolve(skip)
        try:
            check_rules(values, origins.__getitem__)
            break
        except ConfigError as exc:
            blamed = Path(exc.source)
            if exc.source in skip or blamed.name not in (BUREAU_LAYER_FILE, TECHNICIAN_LAYER_FILE) \
                    or blamed.parent != data_dir:
                raise
            layer = LAYER_BUREAU if blamed.name == BUREAU_LAYER_FILE else LAYER_TECHNICIAN
            notices.append(_set_aside(blamed, layer, exc, set_aside))
            skip.add(exc.source)
    return Config(values, layers, tuple(notices))


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


# --- writing -------------------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    """One value as TOML writes it (tomli-w: every control character escaped)."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def render_toml(values: Mapping[str, Any], commented_defaults: bool = False,
                keys: Iterable[Key] = SCHEMA) -> str:
    """TOML text for the given keys; with commented_defaults, every key is documented."""
    keys = list(keys)
    if not commented_defaults:
        doc: dict[str, dict[str, Any]] = {}
        for key in keys:
            if key.name in values:
                doc.setdefault(key.section, {})[key.short] = values[key.name]
        return tomli_w.dumps(doc)
    lines: list[str] = []
    section = None
    order = list(dict.fromkeys(k.section for k in keys))  # one [section] each, in schema order
    keys.sort(key=lambda k: order.index(k.section))
    for key in keys:
        if key.section != section:
            section = key.section
            lines += ["", f"[{section}]"] if lines else [f"[{section}]"]
        notes = []
        if key.choices:
            notes.append("one of: " + ", ".join(map(str, key.choices)))
        if key.min is not None or key.max is not None:
            notes.append(f"range: {key.min if key.min is not None else ''}..{key.max if key.max is not None else ''}")
        if key.technician:
            notes.append("technician may change")
        if key.provisioned:
            notes.append("provisioned: the provisioning store in the data directory overrides it")
        notes.append("env: " + " or ".join(key.env_names))
        lines.append(f"# {comment_text(key.description)}")
        lines.append(f"# ({comment_text('; '.join(notes))})")
        lines.append(f"# {key.short} = {_toml_value(key.default)}")
        lines.append("")
    return "\n".join(lines) + "\n"


def comment_text(text: str, limit: int = 400) -> str:
    """Text safe inside a TOML comment: one line, no control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))[:limit]


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


def atomic_write(path: Path, data: bytes) -> None:
    """Write data so that a power cut leaves either the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
