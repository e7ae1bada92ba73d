"""Reference data from the bureau (bank outlets, this kiosk's pushed settings), cached in the data
directory with its ETag so the UI reads it without the network; run by the sync daemon only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk import config
from kiosk.schema import ConfigError
from kiosk.sync.client import BureauClient, BureauError, BureauGarbage, BureauRejected

log = logging.getLogger(__name__)

REFERENCE_DIR = "reference"
OUTLETS = "outlets"
KIOSK_CONFIG = "kiosk-config"
NAMES = (OUTLETS, KIOSK_CONFIG)

# Outlet fields as docs/bureau-api.yaml (#/components/schemas/Outlet) has them: name -> max length.
OUTLET_FIELDS = {"outlet_id": 32, "name": 80, "address": 200, "bank": 40, "city_code": 6,
                 "phone": 30, "opening_hours": 80}
OUTLET_REQUIRED = ("outlet_id", "name", "address", "bank", "city_code")


@dataclass(frozen=True)
class Cached:
    """One cached answer: the body as the bureau sent it, its ETag, when fetched and last checked."""

    name: str
    body: dict[str, Any]
    etag: str | None
    fetched_at: str
    checked_at: str

    @property
    def version(self) -> str:
        return str(self.body.get("version", ""))


def cache_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / REFERENCE_DIR / f"{name}.json"


def read_cached(data_dir: Path, name: str) -> Cached | None:
    """The cached answer, or None when there is none or the file is unreadable."""
    path = cache_path(data_dir, name)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Cached(name, dict(doc["body"]), doc.get("etag"), str(doc.get("fetched_at", "")),
                      str(doc.get("checked_at", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("event=reference_cache_unreadable name=%s error=%s", name, type(exc).__name__)
        return None


def _write_cached(data_dir: Path, c: Cached) -> None:
    doc = {"name": c.name, "etag": c.etag, "fetched_at": c.fetched_at, "checked_at": c.checked_at,
           "body": c.body}
    config.atomic_write(cache_path(data_dir, c.name),
                        json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))


# --- validation: an answer off the contract keeps the old cache -------------------------------

def outlet_problem(item: Any) -> str:
    """Why one outlet does not fit the contract, or "" when it does."""
    if not isinstance(item, dict):
        return "not an object"
    for name in OUTLET_REQUIRED:
        if name not in item:
            return f"{name} missing"
    for name, value in item.items():
        if name not in OUTLET_FIELDS:
            return f"unknown field {name[:20]!r}"
        if not isinstance(value, str) or len(value) > OUTLET_FIELDS[name]:
            return f"{name} not a string of at most {OUTLET_FIELDS[name]}"
    if not (item["city_code"].isdigit() and len(item["city_code"]) == 6):
        return "city_code not six digits"
    return ""


def check_outlets(body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("version"), str) \
            or not isinstance(body.get("outlets"), list):
        raise BureauGarbage("outlets: not {version, outlets[]}")
    for i, item in enumerate(body["outlets"]):
        problem = outlet_problem(item)
        if problem:
            raise BureauGarbage(f"outlets[{i}]: {problem}")


def check_kiosk_config(body: Any, kiosk_id: str) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("version"), str) \
            or not isinstance(body.get("settings"), dict):
        raise BureauGarbage("kiosk-config: not {kiosk_id, version, settings{}}")
    if body.get("kiosk_id") != kiosk_id:
        raise BureauGarbage("kiosk-config: for another kiosk")


def bureau_layer(settings: Mapping[str, Any], log_drops: bool = True) -> dict[str, Any]:
    """The pushed settings our schema lets the bureau set, each parsed by its Key; every other
    one is dropped with a log line (the value is not logged: it may be long or odd)."""
    kept: dict[str, Any] = {}
    for name, raw in settings.items():
        key = config.KEYS.get(name)
        reason, problem = "", ""
        if key is None:
            reason = "unknown"
        elif not key.bureau:
            reason = "not_pushable"
        else:
            try:
                kept[name] = key.parse(raw, "bureau kiosk-config")
            except ConfigError as exc:
                reason, problem = "invalid", exc.problem
        if reason and log_drops:
            log.warning("event=bureau_setting_dropped key=%s reason=%s problem=%r",
                        str(name)[:60], reason, problem[:120])
    return kept


def render_bureau_layer(values: Mapping[str, Any], version: str) -> bytes:
    """The bureau layer file, read back as config.load will read it before it may be written:
    the bureau's version goes into a comment, so it loses anything a comment cannot hold."""
    header = (f"# Settings pushed by the bureau (kiosk-config version {config.comment_text(version, 80)}).\n"
              "# Written by the sync daemon; edits here are replaced at the next change.\n")
    body = config.render_toml(values) if values else ""
    return config.checked_layer_bytes(header + body, config.LAYER_BUREAU)


# --- the cache ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RefreshResult:
    """What one refresh did per name: updated | unchanged | kept_old (garbage, refused, or not
    writable) | offline | failed (a bug, logged); and whether the bureau layer file changed."""

    outcomes: Mapping[str, str]
    settings_changed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**self.outcomes, "settings_changed": self.settings_changed}

    @property
    def reached(self) -> bool:
        return all(o != "offline" for o in self.outcomes.values())


class ReferenceData:
    """Fetches with If-None-Match and keeps the last good answer; one refresh at a time."""

    def __init__(self, data_dir: Path, kiosk_id: str) -> None:
        self.data_dir = Path(data_dir)
        self.kiosk_id = kiosk_id
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        versions = {n: (c.version if (c := read_cached(self.data_dir, n)) else "-") for n in NAMES}
        return f"<ReferenceData {self.data_dir / REFERENCE_DIR} versions={versions}>"

    @property
    def layer_path(self) -> Path:
        return self.data_dir / config.BUREAU_LAYER_FILE

    def versions(self) -> dict[str, str]:
        """Cached version per name ("" when none), for the heartbeat and its ack's hints."""
        return {n: (c.version if (c := read_cached(self.data_dir, n)) else "") for n in NAMES}

    def refresh(self, client: BureauClient) -> RefreshResult:
        """Ask for both; a failure of one does not stop the other. Never raises BureauError."""
        with self._lock:
            outcomes: dict[str, str] = {}
            for name in NAMES:
                outcomes[name] = self._refresh_one(client, name)
            changed = self.apply_settings()
            return RefreshResult(outcomes, changed)

    def _refresh_one(self, client: BureauClient, name: str) -> str:
        old = read_cached(self.data_dir, name)
        now = _rfc3339(time.time())
        try:
            answer = client.reference(name, old.etag if old else None)
            if answer.status == 304:
                if old is None:  # a 304 to a question without an ETag is off the contract
                    raise BureauGarbage("304 without a cached copy")
                try:
                    _write_cached(self.data_dir, Cached(name, old.body, old.etag, old.fetched_at,
                                                        now))
                except OSError:
                    pass  # only checked_at is lost
                log.debug("event=reference_unchanged name=%s version=%s", name, old.version)
                return "unchanged"
            if name == OUTLETS:
                check_outlets(answer.body)
            else:
                check_kiosk_config(answer.body, self.kiosk_id)
        except BureauGarbage as exc:
            log.warning("event=reference_garbage name=%s kept=%s reason=%r", name,
                        old.version if old else "-", exc.reason[:160])
            return "kept_old"
        except BureauRejected as exc:
            log.warning("event=reference_refused name=%s status=%s code=%s", name, exc.status,
                        exc.code)
            return "kept_old"
        except BureauError as exc:
            log.info("event=reference_unreachable name=%s reason=%r", name, exc.reason[:120])
            return "offline"
        try:
            _write_cached(self.data_dir, Cached(name, answer.body, answer.etag, now, now))
        except OSError as exc:  # a full or read-only disk: the old file is still whole
            log.error("event=reference_write_failed name=%s error=%s", name, exc.strerror or exc)
            return "kept_old"
        count = len(answer.body["outlets"]) if name == OUTLETS else len(answer.body["settings"])
        log.info("event=reference_updated name=%s version=%s items=%d", name,
                 answer.body["version"], count)
        return "updated"

    def apply_settings(self) -> bool:
        """Write the bureau layer from the cached kiosk-config when it differs from the file;
        True when the file changed (also restores a layer file someone removed)."""
        cached = read_cached(self.data_dir, KIOSK_CONFIG)
        if cached is None:
            return False
        pushed = cached.body.get("settings") or {}
        values = bureau_layer(pushed, log_drops=False)
        try:
            data = render_bureau_layer(values, cached.version)
        except ConfigError as exc:  # a bug, not the bureau's doing: keep the old file
            log.error("event=bureau_settings_not_written problem=%r", str(exc)[:200])
            return False
        try:
            if self.layer_path.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
        bureau_layer(pushed)  # now say what was dropped, once per change rather than per check
        try:
            config.atomic_write(self.layer_path, data)
        except OSError as exc:
            log.error("event=bureau_settings_write_failed error=%s", exc.strerror or exc)
            return False
        log.info("event=bureau_settings_written version=%s keys=%s", cached.version,
                 ",".join(sorted(values)) or "-")
        return True


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
