"""The layered configuration loader, built from the one schema in kiosk/schema.py.

Layers, lowest to highest: built-in defaults < /etc/kiosk/kiosk.toml (or --config PATH)
< bureau-pushed settings (data dir) < technician settings (data dir) < KIOSK_* environment.
The commented default file, validation, `kiosk check-config` and the maintenance settings
page are all generated from SCHEMA.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

KEYS: Mapping[str, Key] = {k.name: k for k in SCHEMA}


@dataclass(frozen=True)
class Config:
    """Resolved configuration: every key's value and the layer it came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def with_overrides(self, overrides: Mapping[str, Any], layer: str = LAYER_ENV) -> Config:
        vals, srcs = dict(self.values), dict(self.sources)
        for name, raw in overrides.items():
            key = _lookup(name, f"<{layer}>")
            vals[name] = key.parse(raw, f"<{layer}>")
            srcs[name] = layer
        return Config(vals, srcs)

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
         overrides: Mapping[str, Any] | None = None) -> Config:
    """Resolve every layer, then the rules between keys: what start-up accepts, `kiosk
    check-config` accepts. A missing system file is fine; a missing --config file is an error."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {k.name: k.default for k in SCHEMA}
    layers: dict[str, str] = {k.name: LAYER_DEFAULT for k in SCHEMA}
    origins: dict[str, str] = {k.name: LAYER_DEFAULT for k in SCHEMA}

    def apply(flat: Mapping[str, Any], layer: str, source: str) -> None:
        _apply(values, origins, flat, layer, source)
        layers.update(dict.fromkeys(flat, layer))

    path = config_path or Path(environ.get("KIOSK_CONFIG", "") or SYSTEM_CONFIG)
    explicit = config_path is not None or bool(environ.get("KIOSK_CONFIG"))
    if explicit or path.exists():
        apply(read_toml(path), LAYER_FILE, str(path))
    if overrides:  # e.g. --sim: below the data-dir layers and the environment
        _apply(values, origins, overrides, LAYER_DEFAULT, "<command line>")
        layers.update(dict.fromkeys(overrides, LAYER_FILE))

    env_layer = _env_values(environ)
    # The data dir decides where the next two layers live, so it may come from env too.
    data_dir = Path(env_layer["kiosk.data_dir"][1] if "kiosk.data_dir" in env_layer else values["kiosk.data_dir"])
    for layer, fname in ((LAYER_BUREAU, BUREAU_LAYER_FILE), (LAYER_TECHNICIAN, TECHNICIAN_LAYER_FILE)):
        layer_path = data_dir / fname
        if layer_path.exists():
            apply(read_toml(layer_path), layer, str(layer_path))
    for name, (env_name, raw) in env_layer.items():
        source = f"environment {env_name}"  # the variable the technician actually set
        values[name] = KEYS[name].parse(raw, source)
        layers[name], origins[name] = LAYER_ENV, source
    check_rules(values, origins.__getitem__)
    return Config(values, layers)


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
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def render_toml(values: Mapping[str, Any], commented_defaults: bool = False,
                keys: Iterable[Key] = SCHEMA) -> str:
    """TOML text for the given keys; with commented_defaults, every key is documented."""
    lines: list[str] = []
    section = None
    keys = list(keys)
    order = list(dict.fromkeys(k.section for k in keys))  # one [section] each, in schema order
    keys.sort(key=lambda k: order.index(k.section))
    for key in keys:
        if not commented_defaults and key.name not in values:
            continue
        if key.section != section:
            section = key.section
            lines += ["", f"[{section}]"] if lines else [f"[{section}]"]
        if commented_defaults:
            notes = []
            if key.choices:
                notes.append("one of: " + ", ".join(map(str, key.choices)))
            if key.min is not None or key.max is not None:
                notes.append(f"range: {key.min if key.min is not None else ''}..{key.max if key.max is not None else ''}")
            if key.technician:
                notes.append("technician may change")
            notes.append("env: " + " or ".join(key.env_names))
            lines.append(f"# {key.description}")
            lines.append(f"# ({'; '.join(notes)})")
            lines.append(f"# {key.short} = {_toml_value(key.default)}")
            lines.append("")
        else:
            lines.append(f"{key.short} = {_toml_value(values[key.name])}")
    return "\n".join(lines) + "\n"


def defaults_file() -> str:
    header = ("# Kiosk configuration: /etc/kiosk/kiosk.toml\n"
              "# Generated by `kiosk config --defaults`. Every key is shown with its default,\n"
              "# commented out. Layers above this file: bureau-pushed settings, technician\n"
              "# settings (both in the data directory), then KIOSK_* environment variables.\n\n")
    return header + render_toml({}, commented_defaults=True)


def save_technician_settings(data_dir: Path, changes: Mapping[str, Any]) -> Path:
    """Validate and merge changes into the technician layer, written atomically (tmp, fsync, rename)."""
    path = data_dir / TECHNICIAN_LAYER_FILE
    current = read_toml(path) if path.exists() else {}
    for name, raw in changes.items():
        key = _lookup(name, str(path))
        if not key.technician:
            raise ConfigError(str(path), name, "may not be changed in the technician settings")
        current[name] = key.parse(raw, str(path))
    atomic_write(path, render_toml(current).encode())
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
