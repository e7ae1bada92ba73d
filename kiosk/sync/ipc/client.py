"""The UI's end of the socket: one short connection per call, every failure a typed error."""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.sync.client import BureauError, BureauGarbage, BureauRejected, BureauUnreachable
from kiosk.sync.ipc.protocol import ERRORS, MAX_ANSWER, REFUSALS, Message, SyncStatus, SyncUnavailable

_ids = itertools.count(1)


def _connect(s: socket.socket, path: Path, deadline: float) -> None:
    """connect(), waiting while the daemon's listen backlog is full (EAGAIN on AF_UNIX)."""
    while True:
        try:
            s.connect(str(path))
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError("sync socket backlog full") from None
            time.sleep(0.005)


def _exchange(path: Path, line: bytes, timeout: float) -> bytes:
    """Send one request line and read the answer line; SyncUnavailable when that fails."""
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            _connect(s, path, deadline)
            try:
                s.sendall(line)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before it read us: the refusal may be waiting to be read
            buf = b""
            while not buf.endswith(b"\n"):
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(65536)
                if not chunk:
                    raise SyncUnavailable("sync daemon closed the connection")
                buf += chunk
                if len(buf) > MAX_ANSWER:
                    raise SyncUnavailable("answer too large")
            return buf
    except TimeoutError as exc:
        raise SyncUnavailable(f"no answer within {timeout:g}s") from exc
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise SyncUnavailable("sync daemon not running") from exc
    except OSError as exc:
        raise SyncUnavailable(f"sync socket: {type(exc).__name__}") from exc


def _raise_error(err: Message) -> None:
    """An answer's error as the exception the daemon's side raised."""
    cls = ERRORS.get(str(err.get("type", "")))
    reason = str(err.get("reason", "error"))
    status = err.get("status")
    status = status if isinstance(status, int) else None
    if cls is BureauUnreachable or cls is SyncUnavailable:
        after = err.get("retry_after")
        raise cls(reason, status, float(after) if isinstance(after, (int, float)) else None)
    if cls is BureauRejected:
        raise BureauRejected(reason, status, str(err.get("code", "")))
    if cls is BureauGarbage:
        raise BureauGarbage(reason, status)
    raise ValueError(f"sync daemon refused the request: {reason}")


class SyncClient:
    """What services use to reach the bureau through the daemon; one short connection per call."""

    def __init__(self, socket_path: Path | str, default_timeout_s: float = 10.0) -> None:
        self.socket_path = Path(socket_path)
        self.default_timeout_s = default_timeout_s
        # told what each live query just saw of the bureau (False: unreachable), so the online
        # indicator need not wait for the daemon's next status to agree with what the citizen is told
        self.on_query: list[Callable[[bool], None]] = []

    def __repr__(self) -> str:
        return f"<SyncClient {self.socket_path}>"

    def call(self, op: str, timeout: float | None = None, **fields_: object) -> object:
        """One request; its result (any JSON value) or the daemon's error raised here."""
        timeout = self.default_timeout_s if timeout is None else timeout
        rid = next(_ids)
        # timeout_s tells the daemon when we stop listening: it drops a query still waiting
        # for the bureau by then instead of sending it.
        fields_.setdefault("timeout_s", timeout)
        line = json.dumps({"id": rid, "op": op, **fields_}, ensure_ascii=False).encode() + b"\n"
        try:
            reply = json.loads(_exchange(self.socket_path, line, timeout))
        except ValueError as exc:
            raise SyncUnavailable("answer is not JSON") from exc
        if not isinstance(reply, dict):
            raise SyncUnavailable("answer is not an object")
        err = reply.get("error")
        err = err if isinstance(err, dict) else {}
        if reply.get("id") is None and not reply.get("ok") and err.get("type") in REFUSALS:
            # Refused before it was read (busy, peer not allowed): nothing was done.
            raise SyncUnavailable(str(err.get("reason", "refused")))
        if reply.get("id") != rid:
            raise SyncUnavailable("answer does not match the request")
        if not reply.get("ok"):
            _raise_error(err)
        return reply.get("result")

    def _call_object(self, op: str, timeout: float, **fields_: object) -> Message:
        result = self.call(op, timeout, **fields_)
        if not isinstance(result, dict):
            raise BureauGarbage(f"{op} answer is not an object")
        return result

    def query(self, kind: str, body: Message, timeout: float | None = None) -> Message:
        """A live query to the bureau; raises BureauUnreachable (incl. SyncUnavailable),
        BureauRejected or BureauGarbage. Blocks up to timeout: call it from a worker thread."""
        timeout = self.default_timeout_s if timeout is None else timeout
        try:
            answer = self._call_object("query", timeout, kind=kind, body=body, timeout_s=timeout)
        except BureauUnreachable:
            self._seen(False)
            raise
        except BureauError:
            self._seen(True)  # refused or garbled: the bureau answered
            raise
        self._seen(True)
        return answer

    def _seen(self, reachable: bool) -> None:
        for listener in self.on_query:
            listener(reachable)

    def status(self, timeout: float = 1.0) -> SyncStatus:
        """The online indicator; never raises: a silent daemon reads as offline."""
        try:
            return SyncStatus.from_dict(self._call_object("status", timeout))
        except (BureauError, ValueError, TypeError):
            return SyncStatus(online=False, daemon_running=False)

    def report(self, devices: list[dict[str, str]] | None = None,
               usage: dict[str, int] | None = None, timeout: float = 0.5) -> bool:
        """Hand device health (DeviceHealth dicts) and completed uses per service to the daemon,
        which carries them in its next heartbeat. False when the daemon is not there."""
        fields_: Message = {"usage": usage or {}}
        if devices is not None:
            fields_["devices"] = devices
        try:
            self.call("report", timeout, **fields_)
            return True
        except (BureauError, ValueError):
            return False

    def refresh_reference(self, timeout: float = 30.0) -> Message:
        """Ask the daemon to fetch reference data now (maintenance menu); what each fetch did:
        {"outlets": "updated"|"unchanged"|"kept_old"|"offline", "kiosk-config": ...,
        "settings_changed": bool}. Raises SyncUnavailable when the daemon is not there."""
        return self._call_object("refresh_reference", timeout)

    def kick(self, timeout: float = 0.5) -> bool:
        """Tell the daemon a submission was queued, so it sends now rather than at its next poll."""
        try:
            self.call("kick", timeout)
            return True
        except (BureauError, ValueError):
            return False
