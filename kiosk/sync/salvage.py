"""Salvage from a quarantined outbox file: every sealed record that can still be read goes back
into the live queue (storage.prepare does that); the idempotency keys make resending safe.

Three readers, best first, all on a copy (the file in quarantine stays as it was found): SQLite's
own recovery (`sqlite3 .recover`) where the CLI has it working; a page walk that decodes every
table-leaf page of the file and its WAL (with overflow chains), so a torn interior page or a
broken schema hides nothing still written; and row by row through SQL, stepping over rows that
fail. Only records plainly ours are kept: a valid reference, a key, a kind, a sealed envelope.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.sync import reference

log = logging.getLogger(__name__)

SALVAGE_TIMEOUT_S = 300.0
_MAGIC = b"SQLite format 3\x00"
# The outbox's columns a salvaged record brings back, in this order.
COLUMNS = ("reference", "idempotency_key", "kind", "created_at", "clock_synced", "created_boot",
           "created_mono", "size", "envelope", "state", "attempts", "last_error")


@dataclass(frozen=True)
class Salvage:
    """What could still be read from a quarantined file: outbox rows (COLUMNS) and the
    sequence high-water marks (day -> last number)."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    method: str = "none"


def salvage(quarantined: Path) -> Salvage:
    """Every record still readable in a quarantined file (see the module doc), each key once."""
    try:
        with tempfile.TemporaryDirectory(prefix="salvage-", dir=quarantined.parent) as tmp:
            copy = Path(tmp) / "copy.db"
            shutil.copyfile(quarantined, copy)
            wal = Path(str(quarantined) + "-wal")
            if wal.exists():
                shutil.copyfile(wal, Path(str(copy) + "-wal"))
            with open(copy, "r+b") as fh:  # a torn header hides every intact page behind it
                if fh.read(16) != _MAGIC:
                    fh.seek(0)
                    fh.write(_MAGIC)
            found: list[Salvage] = []
            if shutil.which("sqlite3"):
                cli = _recover_cli(copy, Path(tmp) / "recovered.db")
                if cli is not None:
                    found.append(cli)
            found.append(_walk_pages(copy))
            found.append(_read_rows(copy))
    except OSError as exc:  # no room for the copy, say: the file waits for the technician
        log.error("event=outbox_salvage_failed file=%s reason=%r", quarantined.name, str(exc))
        return Salvage(method="failed")
    rows: dict[str, tuple[Any, ...]] = {}
    sequences: dict[str, int] = {}
    for f in found:
        for row in f.rows:
            rows.setdefault(row[1], row)
        for day, last in f.sequences.items():
            sequences[day] = max(sequences.get(day, 0), last)
    best = max(found, key=lambda f: len(f.rows))
    return Salvage(list(rows.values()), sequences, best.method if best.rows else "none")


def _recover_cli(copy: Path, out: Path) -> Salvage | None:
    try:
        with subprocess.Popen(["sqlite3", str(copy), ".recover"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) as rec:
            subprocess.run(["sqlite3", str(out)], stdin=rec.stdout, capture_output=True,
                           timeout=SALVAGE_TIMEOUT_S, check=False)
            rec.wait(SALVAGE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("event=outbox_recover_failed reason=%r", str(exc)[:200])
        return None
    if not out.exists():
        return None
    db = sqlite3.connect(str(out))
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows: list[tuple[Any, ...]] = []
        sequences: dict[str, int] = {}
        if "outbox" in tables:
            rows += db.execute(f"SELECT {','.join(COLUMNS)} FROM outbox").fetchall()
        if "ref_sequence" in tables:
            sequences.update(_valid_sequences(db.execute("SELECT day, last FROM ref_sequence")))
        if "lost_and_found" in tables:
            # Rows whose table could not be told: an outbox row has 14 fields (the id alias
            # first, stored as NULL), a ref_sequence row two.
            cols = [r[1] for r in db.execute("PRAGMA table_info(lost_and_found)")]
            for r in db.execute("SELECT * FROM lost_and_found"):
                cell = dict(zip(cols, r))
                if cell.get("nfield") == 14:
                    rows.append(tuple(cell.get(f"c{i}") for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                                    11, 13)))
                elif cell.get("nfield") == 2:
                    sequences.update(_valid_sequences([(cell.get("c0"), cell.get("c1"))]))
    except sqlite3.Error as exc:
        log.warning("event=outbox_recover_unreadable reason=%r", str(exc)[:200])
        return None
    finally:
        db.close()
    return Salvage(_valid_rows(rows), sequences, "sqlite3 .recover")


def _walk_pages(copy: Path) -> Salvage:
    """Decode every table-leaf page of the file, then of its WAL's valid frames (later frames
    win), following overflow chains: records whose b-tree above them is damaged still count."""
    with open(copy, "rb") as fh:
        if len(fh.read(100)) < 100:
            return Salvage(method="page walk")
        # Mapped, not read: a queue of a gigabyte must not need a gigabyte of memory here.
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _walk(copy, data)
    finally:
        data.close()


def _walk(copy: Path, data: mmap.mmap) -> Salvage:
    ps = struct.unpack(">H", data[16:18])[0]
    ps = 65536 if ps == 1 else ps
    if data[21:24] != b"\x40\x20\x20" or ps < 512 or ps & (ps - 1):
        # A torn header (the payload fractions are constants 64, 32, 32): SQLite's defaults.
        ps, reserved = 4096, 0
    else:
        reserved = data[20]
    usable = ps - reserved
    pages = _Pages(data, ps)
    wal = Path(str(copy) + "-wal")
    if wal.exists():
        w = wal.read_bytes()
        if len(w) >= 32:
            salt = w[16:24]
            for off in range(32, len(w) - ps - 23, ps + 24):
                if w[off + 8:off + 16] == salt:
                    pages.wal[struct.unpack(">I", w[off:off + 4])[0]] = w[off + 24:off + 24 + ps]
    rows: list[tuple[Any, ...]] = []
    sequences: dict[str, int] = {}
    for number in pages.numbers():
        for record in _leaf_records(pages[number], 100 if number == 1 else 0, usable, pages):
            if len(record) == 14:  # an outbox row: id alias (NULL) first
                rows.append(tuple(record[i] for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13)))
            elif len(record) == 2:
                sequences.update(_valid_sequences([record]))
    return Salvage(_valid_rows(rows), sequences, "page walk")


class _Pages:
    """Page number -> bytes: the WAL's latest valid frame, else the file."""

    def __init__(self, data: mmap.mmap, ps: int) -> None:
        self.data, self.ps, self.count = data, ps, len(data) // ps
        self.wal: dict[int, bytes] = {}

    def numbers(self) -> list[int]:
        return sorted(set(range(1, self.count + 1)) | set(self.wal))

    def __contains__(self, n: object) -> bool:
        return isinstance(n, int) and (n in self.wal or 1 <= n <= self.count)

    def __getitem__(self, n: int) -> bytes:
        if n in self.wal:
            return self.wal[n]
        return self.data[(n - 1) * self.ps:n * self.ps]


def _leaf_records(page: bytes, head: int, usable: int, pages: _Pages) -> list[list[Any]]:
    if len(page) < head + 8 or page[head] != 0x0D:  # table b-tree leaf
        return []
    out = []
    cells = struct.unpack(">H", page[head + 3:head + 5])[0]
    for i in range(cells):
        with contextlib.suppress(IndexError, ValueError, struct.error, UnicodeDecodeError):
            ptr = struct.unpack(">H", page[head + 8 + 2 * i:head + 10 + 2 * i])[0]
            size, p = _varint(page, ptr)
            _rowid, p = _varint(page, p)
            out.append(_record(_payload(page, p, size, usable, pages)))
    return out


def _payload(page: bytes, p: int, size: int, usable: int, pages: _Pages) -> bytes:
    x = usable - 35
    if size <= x:
        return page[p:p + size]
    m = (usable - 12) * 32 // 255 - 23
    k = m + (size - m) % (usable - 4)
    local = k if k <= x else m
    body = bytearray(page[p:p + local])
    nxt = struct.unpack(">I", page[p + local:p + local + 4])[0]
    seen = set()
    while len(body) < size:
        if nxt in seen or nxt not in pages:
            raise ValueError("broken overflow chain")
        seen.add(nxt)
        ov = pages[nxt]
        body += ov[4:usable][:size - len(body)]
        nxt = struct.unpack(">I", ov[:4])[0]
    return bytes(body)


def _record(payload: bytes) -> list[Any]:
    hsize, p = _varint(payload, 0)
    types = []
    while p < hsize:
        t, p = _varint(payload, p)
        types.append(t)
    values: list[Any] = []
    q = hsize
    for t in types:
        if t == 0:
            values.append(None)
        elif t in (8, 9):
            values.append(t - 8)
        elif 1 <= t <= 6:
            n = (1, 2, 3, 4, 6, 8)[t - 1]
            values.append(int.from_bytes(payload[q:q + n], "big", signed=True))
            q += n
        elif t == 7:
            values.append(struct.unpack(">d", payload[q:q + 8])[0])
            q += 8
        elif t >= 12:
            n = (t - 12) // 2
            raw = payload[q:q + n]
            if len(raw) != n:
                raise ValueError("short record")
            values.append(raw.decode("utf-8") if t % 2 else bytes(raw))
            q += n
        else:
            raise ValueError(f"serial type {t}")
    return values


def _varint(buf: bytes, p: int) -> tuple[int, int]:
    v = 0
    for i in range(9):
        b = buf[p + i]
        if i == 8:
            return (v << 8) | b, p + 9
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, p + i + 1
    raise ValueError("varint")


def _read_rows(copy: Path) -> Salvage:
    rows: list[tuple[Any, ...]] = []
    sequences: dict[str, int] = {}
    try:
        db = sqlite3.connect(str(copy))
    except sqlite3.Error:
        return Salvage(method="rows")
    try:
        with contextlib.suppress(sqlite3.Error):
            sequences.update(_valid_sequences(db.execute("SELECT day, last FROM ref_sequence")))
        last, misses = 0, 0
        while misses < 10_000:
            try:
                row = db.execute(f"SELECT id, {','.join(COLUMNS)} FROM outbox "
                                 "WHERE id > ? ORDER BY id LIMIT 1", (last,)).fetchone()
            except sqlite3.Error:
                last, misses = last + 1, misses + 1  # step over a row that fails to read
                continue
            if row is None:
                break
            last = row[0]
            rows.append(tuple(row[1:]))
    finally:
        db.close()
    return Salvage(_valid_rows(rows), sequences, "rows")


def _valid_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Only what is plainly one of our records: a reference with a good check character, a key,
    a kind and a sealed envelope; the bureau judges the rest."""
    good = []
    for row in rows:
        if len(row) != len(COLUMNS):
            continue
        ref, key, kind, envelope = row[0], row[1], row[2], row[8]
        if (isinstance(ref, str) and reference.is_valid(ref) and isinstance(key, str) and key
                and isinstance(kind, str) and isinstance(envelope, bytes) and envelope):
            good.append(row)
    return good


def _valid_sequences(pairs: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for day, last in pairs:
        if isinstance(day, str) and len(day) == 8 and day.isdigit() and isinstance(last, int):
            out[day] = max(out.get(day, 0), min(last, reference.SEQ_MAX))
    return out


