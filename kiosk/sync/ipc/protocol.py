"""The wire format between the UI's services and the sync daemon: one JSON object per line.

Request: {"id", "op": "ping"|"status"|"query"|"kick"|"report"|"refresh_reference", "kind",
"body", "timeout_s"}. Answer: {"id", "ok": true, "result"} or {"id", "ok": false, "error":
{"type", "reason", ...}}. Both ends build and read lines only through this module.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from kiosk.sync.client import BureauError, BureauGarbage, BureauRejected, BureauUnreachable

log = logging.getLogger(__name__)

# The largest request the UI sends is an identity check: four 640x480 liveness pictures, at
# worst (noise, JPEG quality 100, the schema's maximum) 607 KB each, 3.2 MB in base64 together.
# A longer line is refused as soon as it passes this, without reading the rest.
MAX_LINE = 4 * 1024 * 1024
# Answers come from the bureau (capped at 16 MiB by the client) wrapped in JSON.
MAX_ANSWER = 32 * 1024 * 1024
MAX_DEPTH = 16  # the deepest request the contract has is 5 levels; deeper is refused unread
DEFAULT_QUERY_TIMEOUT_S = 30.0  # a request that names no timeout_s (an old client)
MAX_QUERY_TIMEOUT_S = 600.0
SLOW_OPS = frozenset({"query", "refresh_reference"})  # these reach the bureau: worker thread
# Refusals sent before a request was read: the answer carries no id.
REFUSALS = ("Busy", "PeerRefused")

# A parsed request or an answer: a JSON object.
Message = dict[str, Any]
Handler = Callable[[Message], object]


class SyncUnavailable(BureauUnreachable):
    """The sync daemon is not running or did not answer in time: to the citizen, 'offline'."""


# The error types an answer may name, as the client raises them again.
ERRORS: dict[str, type[BureauError]] = {
    "BureauUnreachable": BureauUnreachable, "BureauRejected": BureauRejected,
    "BureauGarbage": BureauGarbage, "SyncUnavailable": SyncUnavailable,
}


@dataclass(frozen=True)
class SyncStatus:
    """What the UI's online indicator and the maintenance screen show."""

    online: bool | None  # None: the daemon has not talked to the bureau yet
    pending: int = 0
    in_flight: int = 0
    dead: int = 0
    oldest_pending_age_s: float | None = None
    last_success_at: float | None = None
    last_error: str = ""
    clock_synchronised: bool = False
    daemon_running: bool = True

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Message) -> SyncStatus:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Refused(Exception):
    """A request answered with an error before it reaches the daemon's dispatch."""

    def __init__(self, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.type, self.reason = type_, reason

    def reply(self, rid: object = None) -> Message:
        return {"id": rid, "ok": False, "error": {"type": self.type, "reason": self.reason}}


def parse_request(line: bytes) -> Message:
    """One request line to a dict, or Refused: never a traceback, whatever the bytes."""
    try:
        req = json.loads(line)
    except RecursionError:
        raise Refused("BadRequest", "request nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise Refused("BadRequest", "not JSON") from None
    if not isinstance(req, dict):
        raise Refused("BadRequest", "request is not an object")
    if _depth_exceeds(req, MAX_DEPTH):
        raise Refused("BadRequest", f"request nested deeper than {MAX_DEPTH}")
    return req


def _depth_exceeds(doc: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[object]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def answer(dispatch: Handler, req: Message) -> Message:
    """Run one parsed request through dispatch; every outcome is a reply."""
    rid = req.get("id")
    started = time.monotonic()
    try:
        result = dispatch(req)
        return {"id": rid, "ok": True, "result": result}
    except BureauError as exc:
        err: Message = {"type": type(exc).__name__, "reason": exc.reason, "status": exc.status}
        if isinstance(exc, BureauUnreachable):
            err["retry_after"] = exc.retry_after
        if isinstance(exc, BureauRejected):
            err["code"] = exc.code
        return {"id": rid, "ok": False, "error": err}
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        return {"id": rid, "ok": False, "error": {"type": "BadRequest",
                                                  "reason": str(exc)[:200]}}
    except Exception as exc:
        log.exception("event=ipc_handler_failed op=%s", req.get("op"))
        return {"id": rid, "ok": False, "error": {"type": "Internal",
                                                  "reason": type(exc).__name__}}
    finally:
        log.debug("event=ipc op=%s ms=%.0f", req.get("op"), (time.monotonic() - started) * 1000)


def encode(message: Message) -> bytes:
    """One line on the wire."""
    return json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n"


def timeout_of(req: Message) -> float:
    """How long the client waits for this request's answer (its timeout_s, within bounds)."""
    value = req.get("timeout_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return min(max(float(value), 0.0), MAX_QUERY_TIMEOUT_S)
    return DEFAULT_QUERY_TIMEOUT_S
