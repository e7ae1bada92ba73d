"""The configuration layer files' format: TOML read flat ({'section.key': value}), rendered with
every key documented, written atomically. Knows the schema, not the layers (kiosk/config.py)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from kiosk.schema import SCHEMA, ConfigError, Key


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
