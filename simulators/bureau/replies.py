"""What the bureau answers, as values: a Reply (status, JSON body, headers), the API's problem
documents, canonical JSON and its ETags, and the key=value event log on stderr."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


def log(event: str, **fields: Any) -> None:
    """One key=value line per event on stderr; callers pass masked values only."""
    parts = [f"event={event}"] + [f"{k}={v}" for k, v in fields.items()]
    print(" ".join(parts), file=sys.stderr, flush=True)


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def problem(status: int, code: str, message: str, retry_after: int | None = None) -> Reply:
    body: dict[str, Any] = {"code": code, "message": message,
                            "retryable": status in (429, 500, 502, 503, 504)}
    headers: tuple[tuple[str, str], ...] = ()
    if retry_after is not None:
        body["retry_after_s"] = retry_after
        headers = (("Retry-After", str(retry_after)),)
    return Reply(status, body, headers)


def etag(body: Any) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()[:20]


def etag_matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    candidates = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return "*" in candidates or tag in candidates


def decode_jpeg(text: str) -> bytes | None:
    """Base64 text -> the JPEG bytes, or None when it is not base64 or not a JPEG."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data[:3] == b"\xff\xd8\xff" else None
