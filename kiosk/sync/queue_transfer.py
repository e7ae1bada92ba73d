"""Queue export and import, for an SD card replacement: the unsent submissions leave the old
card on a USB stick and join the new card's queue, still sealed (the kiosk cannot open them, and
neither does this module), with their references and idempotency keys.

On the stick, DIR/kiosk-queue-<kiosk id>/ (one stick may carry several kiosks' exports):
  manifest.json       {"format": 1, "export_id", "kiosk_id", "exported_at", "count",
                       "sequences": {YYYYMMDD: last number used}, "submissions": [...]}
  manifest.sha256     "<sha256 of manifest.json>  manifest.json" (sha256sum -c reads it)
  envelopes/<reference>.sealed   each envelope as queued; the manifest holds its size and sha256

Export never changes the queue it reads (it stays whole on the old card until that card is
wiped). Import verifies the manifest's checksum, then every envelope's size and checksum inside
ONE transaction: a damaged or truncated export adds nothing. The export's id is kept in the
queue's meta table, so importing the same export twice adds nothing the second time (even after
the bureau has acknowledged and the rows are gone); a submission already queued (same
idempotency key) is not added again. The day's reference numbers of the old card are carried
over, so the new card never mints a number the old one gave a citizen.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.sync import reference, storage
from kiosk.sync.outbox import DB_NAME, SUBMISSION_KINDS
from kiosk.sync.salvage import COLUMNS
from kiosk.sync.transactions import Connections

FORMAT = 1
EXPORT_PREFIX = "kiosk-queue-"
MANIFEST = "manifest.json"
CHECKSUM = "manifest.sha256"
ENVELOPES = "envelopes"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_STATES = ("pending", "in_flight", "dead")


class TransferRefused(Exception):
    """The export cannot be used (damaged, truncated, another kiosk's): nothing was imported."""


@dataclass(frozen=True)
class Exported:
    path: Path
    count: int
    dead: int


@dataclass(frozen=True)
class Imported:
    count: int  # submissions in the export
    added: int  # new in this queue
    export_seen: bool  # this export was imported before: nothing added


def _sha256_file(path: Path) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- export ------------------------------------------------------------------------------------

def _rows(db: Path) -> Iterator[dict[str, Any]]:
    """Every unsent row (pending, in flight, dead), oldest first, one read transaction."""
    conn = storage.connect(db)
    try:
        conn.execute("BEGIN")
        for row in conn.execute(f"SELECT {','.join(COLUMNS)} FROM outbox ORDER BY id"):
            yield dict(zip(COLUMNS, row))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _sequences(db: Path) -> dict[str, int]:
    conn = storage.connect(db)
    try:
        return {str(d): int(n) for d, n in conn.execute("SELECT day, last FROM ref_sequence")}
    finally:
        conn.close()


def export_dir(stick: Path, kiosk_id: str) -> Path:
    return Path(stick) / f"{EXPORT_PREFIX}{kiosk_id}"


def export(data_dir: Path, kiosk_id: str, stick: Path) -> Exported:
    """Write the queue of data_dir to stick/kiosk-queue-<kiosk id> (replacing this kiosk's
    earlier export there; other kiosks' exports are left alone)."""
    db = Path(data_dir) / DB_NAME
    stick = Path(stick)
    if not stick.is_dir():
        raise FileNotFoundError(2, "no such directory (is the stick mounted?)", str(stick))
    if db.exists():
        storage.prepare(db)  # a damaged file is quarantined and salvaged first, as at start-up
    partial = stick / f".{EXPORT_PREFIX}{kiosk_id}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / ENVELOPES).mkdir(parents=True)
    try:
        entries, sequences = _write_envelopes(db, partial / ENVELOPES)
        manifest = {"format": FORMAT, "export_id": str(uuid.uuid4()), "kiosk_id": kiosk_id,
                    "exported_at": time.time(), "count": len(entries), "sequences": sequences,
                    "submissions": entries}
        body = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode()
        _write(partial / MANIFEST, body)
        _write(partial / CHECKSUM, f"{hashlib.sha256(body).hexdigest()}  {MANIFEST}\n".encode())
        _fsync_dir(partial / ENVELOPES)
        _fsync_dir(partial)
        final = export_dir(stick, kiosk_id)
        if final.exists():
            shutil.rmtree(final)
        os.rename(partial, final)
        _fsync_dir(stick)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    dead = sum(1 for e in entries if e["state"] == "dead")
    return Exported(final, len(entries), dead)


def _write_envelopes(db: Path, into: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    entries: list[dict[str, Any]] = []
    if not db.exists():
        return entries, {}
    for row in _rows(db):
        envelope = bytes(row.pop("envelope"))
        name = f"{row['reference']}.sealed"
        _write(into / name, envelope)
        entries.append({**row, "file": f"{ENVELOPES}/{name}", "bytes": len(envelope),
                        "sha256": hashlib.sha256(envelope).hexdigest()})
    sequences = _sequences(db)
    for e in entries:  # the queued rows' own numbers too
        day, seq = e["reference"][-17:-9], int(e["reference"][-8:-2])
        sequences[day] = max(sequences.get(day, 0), seq)
    return entries, sequences


# --- import ------------------------------------------------------------------------------------

def locate(stick: Path, kiosk_id: str) -> Path:
    """This kiosk's export on the stick (stick/kiosk-queue-<kiosk id>), or stick itself when it
    is an export directory."""
    stick = Path(stick)
    for candidate in (export_dir(stick, kiosk_id), stick):
        if (candidate / MANIFEST).exists():
            return candidate
    others = sorted(p.name for p in stick.glob(f"{EXPORT_PREFIX}*")) if stick.is_dir() else []
    found = f"; it holds {', '.join(others)}" if others else ""
    raise TransferRefused(f"no queue export of {kiosk_id} in {stick} (expected "
                          f"{export_dir(stick, kiosk_id).name}/{MANIFEST}){found}")


def read_manifest(export_dir: Path, kiosk_id: str) -> dict[str, Any]:
    """The manifest, its checksum verified and every entry well formed (the envelopes are
    checked as they are imported)."""
    try:
        body = (export_dir / MANIFEST).read_bytes()
        listed = (export_dir / CHECKSUM).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise TransferRefused(f"{export_dir}: manifest or its checksum unreadable ({exc})") from None
    if len(body) > MAX_MANIFEST_BYTES or not listed or listed[0] != hashlib.sha256(body).hexdigest():
        raise TransferRefused(f"{MANIFEST}: does not match {CHECKSUM} (damaged or cut short)")
    try:
        manifest = json.loads(body)
    except ValueError:
        raise TransferRefused(f"{MANIFEST}: not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TransferRefused(f"{MANIFEST}: not a queue export of format {FORMAT}")
    if manifest.get("kiosk_id") != kiosk_id:
        raise TransferRefused(f"exported by kiosk {manifest.get('kiosk_id')!r}, this kiosk is "
                              f"{kiosk_id!r}: the bureau would refuse its submissions here")
    subs = manifest.get("submissions")
    if not isinstance(subs, list) or manifest.get("count") != len(subs) \
            or not isinstance(manifest.get("export_id"), str):
        raise TransferRefused(f"{MANIFEST}: the submission list is incomplete")
    for entry in subs:
        _check_entry(entry)
    for field in ("reference", "idempotency_key"):
        if len({e[field] for e in subs}) != len(subs):
            raise TransferRefused(f"{MANIFEST}: a {field} appears twice")
    sequences = manifest.get("sequences")
    if not isinstance(sequences, dict) or not all(
            isinstance(d, str) and len(d) == 8 and d.isdigit() and isinstance(n, int)
            and 0 <= n <= reference.SEQ_MAX for d, n in sequences.items()):
        raise TransferRefused(f"{MANIFEST}: bad sequence numbers")
    return manifest


def _check_entry(e: Any) -> None:
    ok = (isinstance(e, dict) and isinstance(e.get("reference"), str)
          and reference.is_valid(e["reference"]) and e.get("kind") in SUBMISSION_KINDS
          and isinstance(e.get("idempotency_key"), str) and 0 < len(e["idempotency_key"]) <= 128
          and e.get("state") in _STATES and isinstance(e.get("bytes"), int)
          and isinstance(e.get("sha256"), str)
          and e.get("file") == f"{ENVELOPES}/{e['reference']}.sealed"
          and all(c in e for c in COLUMNS if c != "envelope"))
    if not ok:
        ref = e.get("reference") if isinstance(e, dict) else None
        raise TransferRefused(f"{MANIFEST}: a malformed entry ({ref or 'no reference'})")


def import_(data_dir: Path, kiosk_id: str, stick: Path) -> Imported:
    """Add the export on stick to data_dir's queue: all of it, or nothing (TransferRefused)."""
    found = locate(stick, kiosk_id)
    manifest = read_manifest(found, kiosk_id)
    db = Path(data_dir) / DB_NAME
    storage.prepare(db)
    connections = Connections(db, drainer=False)
    try:
        return connections.write(lambda conn: _add(conn, found, manifest))
    finally:
        connections.close()


def _envelope(export_dir: Path, entry: dict[str, Any]) -> bytes:
    try:
        data: bytes = (export_dir / str(entry["file"])).read_bytes()
    except OSError as exc:
        raise TransferRefused(f"{entry['file']}: missing or unreadable ({exc.strerror or exc})") from None
    if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise TransferRefused(f"{entry['file']}: does not match the manifest (damaged or cut short)")
    return data


def _add(conn: sqlite3.Connection, export_dir: Path, manifest: dict[str, Any]) -> Imported:
    subs: list[dict[str, Any]] = manifest["submissions"]
    mark = f"queue_import:{manifest['export_id']}"
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (mark,)).fetchone():
        return Imported(len(subs), 0, True)
    added = 0
    for entry in subs:
        envelope = _envelope(export_dir, entry)
        held = conn.execute("SELECT idempotency_key FROM outbox WHERE reference = ?",
                            (entry["reference"],)).fetchone()
        if held and held[0] != entry["idempotency_key"]:
            raise TransferRefused(f"reference {entry['reference']} is already used by another "
                                  "submission in this queue (import before the kiosk takes any)")
        values = {**entry, "envelope": envelope, "created_boot": 0, "created_mono": 0.0,
                  "state": "dead" if entry["state"] == "dead" else "pending"}
        added += conn.execute(
            f"INSERT OR IGNORE INTO outbox({','.join(COLUMNS)}, next_attempt_at) "
            f"VALUES ({','.join('?' * len(COLUMNS))}, 0)", [values[c] for c in COLUMNS]).rowcount
    conn.executemany("INSERT INTO ref_sequence(day, last) VALUES (?, ?) "
                     "ON CONFLICT(day) DO UPDATE SET last = max(last, excluded.last)",
                     sorted(manifest["sequences"].items()))
    detail = f"export={manifest['export_id']} count={len(subs)} added={added}"
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)",
                 (mark, json.dumps({"at": time.time(), "count": len(subs), "added": added})))
    conn.execute("INSERT INTO alerts(at, kind, detail) VALUES (?, ?, ?)",
                 (time.time(), "queue_imported", detail))
    return Imported(len(subs), added, False)
