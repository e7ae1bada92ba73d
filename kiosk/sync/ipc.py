"""The UNIX-socket protocol between the UI's services and the sync daemon, both ends.

One JSON object per line. Request: {"id", "op": "ping"|"status"|"query"|"kick"|"report"|
"refresh_reference", "kind", "body"}.
Answer: {"id", "ok": true, "result"} or {"id", "ok": false, "error": {"type", "reason", ...}}.
The UI process has no network; this socket is how its questions reach the bureau.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from kiosk.sync.client import BureauError, BureauGarbage, BureauRejected, BureauUnreachable

log = logging.getLogger(__name__)

MAX_LINE = 32 * 1024 * 1024  # identity checks carry four JPEGs in base64
_ids = itertools.count(1)


class SyncUnavailable(BureauUnreachable):
    """The sync daemon is not running or did not answer in time: to the citizen, 'offline'."""


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

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SyncStatus":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


Handler = Callable[[dict[str, Any]], Any]


class _RequestHandler(socketserver.StreamRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        while True:
            try:
                line = self.rfile.readline(MAX_LINE + 1)
            except OSError:
                return
            if not line:
                return
            reply = self.server.answer(line)
            try:
                self.wfile.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
                self.wfile.flush()
            except OSError:
                return


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    dispatch: Handler

    def answer(self, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("request is not an object")
        except ValueError:
            return {"id": None, "ok": False, "error": {"type": "BadRequest", "reason": "not JSON"}}
        rid = req.get("id")
        started = time.monotonic()
        try:
            result = self.dispatch(req)
            return {"id": rid, "ok": True, "result": result}
        except BureauError as exc:
            err = {"type": type(exc).__name__, "reason": exc.reason, "status": exc.status}
            if isinstance(exc, BureauUnreachable):
                err["retry_after"] = exc.retry_after
            if isinstance(exc, BureauRejected):
                err["code"] = exc.code
            return {"id": rid, "ok": False, "error": err}
        except (ValueError, KeyError, TypeError) as exc:
            err = {"type": "BadRequest", "reason": str(exc)[:200]}
            return {"id": rid, "ok": False, "error": err}
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the server thread
            log.exception("event=ipc_handler_failed op=%s", req.get("op"))
            err = {"type": "Internal", "reason": type(exc).__name__}
            return {"id": rid, "ok": False, "error": err}
        finally:
            log.debug("event=ipc op=%s ms=%.0f", req.get("op"), (time.monotonic() - started) * 1000)


class IpcServer:
    """Serves requests on a UNIX socket, one thread per connection, until close()."""

    def __init__(self, socket_path: Path | str, dispatch: Handler) -> None:
        self.path = Path(socket_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_socket():
            if _alive(self.path):
                raise RuntimeError(f"another sync daemon answers on {self.path}")
            self.path.unlink()  # left by a daemon that was killed
        self._server = _Server(str(self.path), _RequestHandler)
        self._server.dispatch = dispatch
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o660)  # the UI's group may talk to us, nobody else
        self._thread = threading.Thread(target=self._server.serve_forever, name="ipc",
                                        kwargs={"poll_interval": 0.2}, daemon=True)

    def start(self) -> "IpcServer":
        self._thread.start()
        log.info("event=ipc_listening socket=%s", self.path)
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def _alive(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


_ERRORS: dict[str, type[BureauError]] = {
    "BureauUnreachable": BureauUnreachable, "BureauRejected": BureauRejected,
    "BureauGarbage": BureauGarbage, "SyncUnavailable": SyncUnavailable,
}


class SyncClient:
    """What services use to reach the bureau through the daemon; one short connection per call."""

    def __init__(self, socket_path: Path | str, default_timeout_s: float = 10.0) -> None:
        self.socket_path = Path(socket_path)
        self.default_timeout_s = default_timeout_s

    def __repr__(self) -> str:
        return f"<SyncClient {self.socket_path}>"

    def call(self, op: str, timeout: float | None = None, **fields_: Any) -> Any:
        timeout = self.default_timeout_s if timeout is None else timeout
        rid = next(_ids)
        line = json.dumps({"id": rid, "op": op, **fields_}, ensure_ascii=False).encode() + b"\n"
        deadline = time.monotonic() + timeout
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(str(self.socket_path))
                s.sendall(line)
                buf = b""
                while not buf.endswith(b"\n"):
                    s.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = s.recv(65536)
                    if not chunk:
                        raise SyncUnavailable("sync daemon closed the connection")
                    buf += chunk
                    if len(buf) > MAX_LINE:
                        raise SyncUnavailable("answer too large")
        except (socket.timeout, TimeoutError) as exc:
            raise SyncUnavailable(f"no answer within {timeout:g}s") from exc
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise SyncUnavailable("sync daemon not running") from exc
        except OSError as exc:
            raise SyncUnavailable(f"sync socket: {type(exc).__name__}") from exc
        reply = json.loads(buf)
        if reply.get("id") != rid:
            raise SyncUnavailable("answer does not match the request")
        if reply.get("ok"):
            return reply.get("result")
        err = reply.get("error") or {}
        cls = _ERRORS.get(err.get("type", ""))
        reason = str(err.get("reason", "error"))
        if cls is BureauUnreachable or cls is SyncUnavailable:
            raise cls(reason, err.get("status"), err.get("retry_after"))
        if cls is BureauRejected:
            raise BureauRejected(reason, err.get("status"), err.get("code", ""))
        if cls is BureauGarbage:
            raise BureauGarbage(reason, err.get("status"))
        raise ValueError(f"sync daemon refused the request: {reason}")

    def query(self, kind: str, body: dict[str, Any],
              timeout: float | None = None) -> dict[str, Any]:
        """A live query to the bureau; raises BureauUnreachable (incl. SyncUnavailable),
        BureauRejected or BureauGarbage. Blocks up to timeout: call it from a worker thread."""
        timeout = self.default_timeout_s if timeout is None else timeout
        return self.call("query", timeout, kind=kind, body=body, timeout_s=timeout)

    def status(self, timeout: float = 1.0) -> SyncStatus:
        """The online indicator; never raises: a silent daemon reads as offline."""
        try:
            return SyncStatus.from_dict(self.call("status", timeout))
        except (BureauError, ValueError):
            return SyncStatus(online=False, daemon_running=False)

    def report(self, devices: list[dict[str, Any]] | None = None,
               usage: dict[str, int] | None = None, timeout: float = 0.5) -> bool:
        """Hand device health (DeviceHealth dicts) and completed uses per service to the daemon,
        which carries them in its next heartbeat. False when the daemon is not there."""
        fields_: dict[str, Any] = {"usage": usage or {}}
        if devices is not None:
            fields_["devices"] = devices
        try:
            self.call("report", timeout, **fields_)
            return True
        except (BureauError, ValueError):
            return False

    def refresh_reference(self, timeout: float = 30.0) -> dict[str, Any]:
        """Ask the daemon to fetch reference data now (maintenance menu); what each fetch did:
        {"outlets": "updated"|"unchanged"|"kept_old"|"offline", "kiosk-config": ...,
        "settings_changed": bool}. Raises SyncUnavailable when the daemon is not there."""
        return self.call("refresh_reference", timeout)

    def kick(self, timeout: float = 0.5) -> bool:
        """Tell the daemon a submission was queued, so it sends now rather than at its next poll."""
        try:
            self.call("kick", timeout)
            return True
        except (BureauError, ValueError):
            return False
