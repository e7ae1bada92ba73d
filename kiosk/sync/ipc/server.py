"""The UNIX-socket protocol between the UI's services and the sync daemon, both ends.

One JSON object per line. Request: {"id", "op": "ping"|"status"|"query"|"kick"|"report"|
"refresh_reference", "kind", "body"}.
Answer: {"id", "ok": true, "result"} or {"id", "ok": false, "error": {"type", "reason", ...}}.
The UI process has no network; this socket is how its questions reach the bureau.
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import json
import logging
import math
import os
import queue
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kiosk.sync.client import BureauError, BureauGarbage, BureauRejected, BureauUnreachable

log = logging.getLogger(__name__)

# The largest request the UI sends is an identity check: four 640x480 liveness pictures, at
# worst (noise, JPEG quality 100, the schema's maximum) 607 KB each, 3.2 MB in base64 together.
# A longer line is refused as soon as it passes this, without reading the rest.
MAX_LINE = 4 * 1024 * 1024
# Answers come from the bureau (capped at 16 MiB by the client) wrapped in JSON.
MAX_ANSWER = 32 * 1024 * 1024
# All connections together may hold this much of unfinished lines: two full-size requests.
BUFFER_BUDGET = 2 * MAX_LINE
# A UI call writes its whole request in one sendall right after connect; over a local socket
# even a 4 MiB identity check arrives in milliseconds. Five seconds covers a Pi stalled by
# swap or a GC pause many times over; a connection that has not sent its line by then is stuck
# or hostile and is closed.
READ_DEADLINE_S = 5.0
WRITE_DEADLINE_S = 5.0  # an answer the client does not read within this is dropped
# Connections waiting for their line at once. The UI has a handful of worker threads, each
# with at most one call open; 32 is several times that. When full, the connection that has
# waited longest for its line is closed to make room: a live client sends at once.
MAX_CONNECTIONS = 32
# Live queries go to the bureau one at a time; this many may wait. More are answered "Busy"
# at once rather than queued behind a slow bureau past any UI timeout.
MAX_QUEUED_QUERIES = 8
MAX_DEPTH = 16  # the deepest request the contract has is 5 levels; deeper is refused unread
DEFAULT_QUERY_TIMEOUT_S = 30.0  # a request that names no timeout_s (an old client)
MAX_QUERY_TIMEOUT_S = 600.0
SLOW_OPS = frozenset({"query", "refresh_reference"})  # these reach the bureau: worker thread
_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux 4.13+
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
    def from_dict(cls, data: dict[str, Any]) -> SyncStatus:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


Handler = Callable[[dict[str, Any]], Any]


class Refused(Exception):
    """A request answered with an error before it reaches the daemon's dispatch."""

    def __init__(self, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.type, self.reason = type_, reason

    def reply(self, rid: Any = None) -> dict[str, Any]:
        return {"id": rid, "ok": False, "error": {"type": self.type, "reason": self.reason}}


def parse_request(line: bytes) -> dict[str, Any]:
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


def _depth_exceeds(doc: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
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


def answer(dispatch: Handler, req: dict[str, Any]) -> dict[str, Any]:
    """Run one parsed request through dispatch; every outcome is a reply."""
    rid = req.get("id")
    started = time.monotonic()
    try:
        result = dispatch(req)
        return {"id": rid, "ok": True, "result": result}
    except BureauError as exc:
        err: dict[str, Any] = {"type": type(exc).__name__, "reason": exc.reason,
                               "status": exc.status}
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


def _encode(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n"


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int
    groups: tuple[int, ...]


def peer_of(sock: socket.socket) -> Peer:
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                        struct.calcsize("3i")))
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, 4 * 256)
        groups = struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4])
    except OSError:  # an old kernel, or more than 256 groups: the primary group still counts
        groups = ()
    return Peer(pid, uid, gid, tuple(groups))


def group_id(name: str) -> int:
    """The gid of a group name (the UI's group, sync.ipc_group); the daemon's own when empty."""
    return grp.getgrnam(name).gr_gid if name else os.getgid()


class _Conn:
    __slots__ = ("buf", "deadline", "opened", "peer", "sock")

    def __init__(self, sock: socket.socket, peer: Peer, deadline: float) -> None:
        self.sock, self.peer, self.deadline = sock, peer, deadline
        self.opened = time.monotonic()
        self.buf = bytearray()


class IpcServer:
    """Serves requests on a UNIX socket until close().

    One thread waits on every connection at once (selectors) and answers the quick requests
    (ping, status, kick, report) itself; one worker thread takes the requests that reach the
    bureau, in the order they came, and drops those whose client has given up. So a flood of
    connections costs descriptors up to MAX_CONNECTIONS and no threads, a long line costs at
    most MAX_LINE, and a peer that is neither this user nor in the allowed group gets nothing.
    """

    def __init__(self, socket_path: Path | str, dispatch: Handler, *,
                 allowed_uids: set[int] | None = None, allowed_gids: set[int] | None = None,
                 max_connections: int = MAX_CONNECTIONS,
                 read_deadline_s: float = READ_DEADLINE_S, max_line: int = MAX_LINE) -> None:
        self.path = Path(socket_path)
        self.dispatch = dispatch
        # Root may talk to us: it can read the key and the queue anyway (technician commands).
        self.allowed_uids = {os.getuid(), 0} if allowed_uids is None else set(allowed_uids)
        self.allowed_gids = {os.getgid()} if allowed_gids is None else set(allowed_gids)
        self.max_connections, self.read_deadline_s = max_connections, read_deadline_s
        self.max_line = max_line
        self.dropped = 0  # queries not sent because their client had given up
        self.refused = 0  # connections refused: peer, busy, too large
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_socket():
            if _alive(self.path):
                raise RuntimeError(f"another sync daemon answers on {self.path}")
            self.path.unlink()  # left by a daemon that was killed
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o660)  # the UI's group may talk to us, nobody else
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._conns: dict[int, _Conn] = {}
        self._buffered = 0
        self._queries: queue.Queue[tuple[_Conn, dict[str, Any], float] | None] = queue.Queue(
            MAX_QUEUED_QUERIES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ipc", daemon=True)
        self._worker = threading.Thread(target=self._work, name="ipc-query", daemon=True)

    def __repr__(self) -> str:
        return (f"<IpcServer {self.path} connections={len(self._conns)} "
                f"dropped={self.dropped} refused={self.refused}>")

    def start(self) -> IpcServer:
        self._thread.start()
        self._worker.start()
        log.info("event=ipc_listening socket=%s max_connections=%d", self.path,
                 self.max_connections)
        return self

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        with contextlib.suppress(queue.Full):
            self._queries.put_nowait(None)
        for thread in (self._thread, self._worker):
            if thread.is_alive():
                thread.join(WRITE_DEADLINE_S + 1)
        for conn in list(self._conns.values()):
            self._close(conn)
        while True:
            try:
                item = self._queries.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].sock.close()
        self._sel.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    # --- the selector thread ---------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            wait = min([c.deadline for c in self._conns.values()], default=now + 1.0) - now
            for key, _ in self._sel.select(max(0.0, min(wait, 1.0))):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(64)
                else:
                    self._read(key.data)
            now = time.monotonic()
            for conn in [c for c in self._conns.values() if c.deadline <= now]:
                log.info("event=ipc_read_deadline uid=%d pid=%d buffered=%d", conn.peer.uid,
                         conn.peer.pid, len(conn.buf))
                self._close(conn)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: the waiting ones stay in the backlog
                log.warning("event=ipc_accept_failed error=%s", type(exc).__name__)
                return
            sock.setblocking(False)
            try:
                peer = peer_of(sock)
            except OSError:
                sock.close()
                continue
            if not (peer.uid in self.allowed_uids or peer.gid in self.allowed_gids
                    or self.allowed_gids.intersection(peer.groups)):
                self._refuse_sock(sock, Refused("PeerRefused", f"uid {peer.uid} not allowed"))
                self._note_refused("peer", peer)
                continue
            if len(self._conns) >= self.max_connections:
                oldest = min(self._conns.values(), key=lambda c: c.opened)
                self._refuse(oldest, Refused("Busy", "too many connections"))
                self._note_refused("busy", oldest.peer)
            conn = _Conn(sock, peer, time.monotonic() + self.read_deadline_s)
            self._conns[sock.fileno()] = conn
            self._sel.register(sock, selectors.EVENT_READ, conn)
            self._read(conn)  # a live client has usually sent its line already

    def _read(self, conn: _Conn) -> None:
        while True:
            try:
                chunk = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._close(conn)
                return
            if not chunk:
                self._close(conn)
                return
            conn.buf += chunk
            self._buffered += len(chunk)
            while b"\n" in chunk:  # only a chunk with a newline can end a line
                end = conn.buf.find(b"\n")
                if end < 0:
                    break
                line = bytes(conn.buf[:end])
                del conn.buf[:end + 1]
                self._buffered -= end + 1
                if not self._line(conn, line):
                    return
            if len(conn.buf) > self.max_line:
                self._refuse(conn, Refused("BadRequest",
                                           f"request too large (limit {self.max_line} bytes)"))
                self._note_refused("too_large", conn.peer)
                return
            if self._buffered > BUFFER_BUDGET:
                self._refuse(conn, Refused("Busy", "too much unanswered input"))
                self._note_refused("budget", conn.peer)
                return

    def _line(self, conn: _Conn, line: bytes) -> bool:
        """Answer one line; False when the connection left the selector (closed or queued)."""
        try:
            req = parse_request(line)
        except Refused as exc:
            self._refuse(conn, exc)
            return False
        if req.get("op") in SLOW_OPS:
            self._detach(conn)
            try:
                self._queries.put_nowait((conn, req, time.monotonic() + _timeout_of(req)))
            except queue.Full:
                self._refuse_sock(conn.sock, Refused("Busy", "too many queries waiting"))
            return False
        if not self._send_now(conn, answer(self.dispatch, req)):
            return False
        conn.deadline = time.monotonic() + self.read_deadline_s  # the next line, if any
        return True

    def _send_now(self, conn: _Conn, reply: dict[str, Any]) -> bool:
        """A quick answer, written without waiting: a client that does not read it is closed."""
        data = _encode(reply)
        try:
            sent = conn.sock.send(data)
        except OSError:
            sent = -1
        if sent != len(data):
            self._close(conn)
            return False
        return True

    def _refuse(self, conn: _Conn, refusal: Refused) -> None:
        self._detach(conn)
        self._refuse_sock(conn.sock, refusal)

    @staticmethod
    def _refuse_sock(sock: socket.socket, refusal: Refused) -> None:
        with contextlib.suppress(OSError):
            sock.setblocking(False)
            sock.send(_encode(refusal.reply()))
        sock.close()

    def _note_refused(self, why: str, peer: Peer) -> None:
        self.refused += 1
        if self.refused in (1, 10) or self.refused % 1000 == 0:  # a flood is one line, not many
            log.warning("event=ipc_refused why=%s uid=%d pid=%d total=%d", why, peer.uid,
                        peer.pid, self.refused)

    def _detach(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if self._conns.pop(fd, None) is not None:
            self._sel.unregister(conn.sock)
            self._buffered -= len(conn.buf)
            conn.buf = bytearray()

    def _close(self, conn: _Conn) -> None:
        self._detach(conn)
        conn.sock.close()

    # --- the query worker ------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queries.get()
            if item is None or self._stop.is_set():
                if item is not None:
                    item[0].sock.close()
                return
            conn, req, deadline = item
            try:
                waited = time.monotonic() - conn.opened
                if time.monotonic() >= deadline or _hung_up(conn.sock):
                    # The UI has shown "try again" already: asking the bureau now would only
                    # spend its quota and our one line to it on an answer nobody reads.
                    self.dropped += 1
                    log.info("event=ipc_query_dropped op=%s kind=%s waited_ms=%.0f",
                             req.get("op"), str(req.get("kind", ""))[:40], waited * 1000)
                    continue
                data = _encode(answer(self.dispatch, req))
                conn.sock.settimeout(WRITE_DEADLINE_S)
                with contextlib.suppress(OSError):
                    conn.sock.sendall(data)
            finally:
                conn.sock.close()


def _timeout_of(req: dict[str, Any]) -> float:
    value = req.get("timeout_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return min(max(float(value), 0.0), MAX_QUERY_TIMEOUT_S)
    return DEFAULT_QUERY_TIMEOUT_S


def _hung_up(sock: socket.socket) -> bool:
    """True when the client has closed its end (it timed out and went away)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


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


_REFUSALS = ("Busy", "PeerRefused")


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
        # timeout_s tells the daemon when we stop listening: it drops a query still waiting
        # for the bureau by then instead of sending it.
        fields_.setdefault("timeout_s", timeout)
        line = json.dumps({"id": rid, "op": op, **fields_}, ensure_ascii=False).encode() + b"\n"
        deadline = time.monotonic() + timeout
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                _connect(s, self.socket_path, deadline)
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
        except TimeoutError as exc:
            raise SyncUnavailable(f"no answer within {timeout:g}s") from exc
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise SyncUnavailable("sync daemon not running") from exc
        except OSError as exc:
            raise SyncUnavailable(f"sync socket: {type(exc).__name__}") from exc
        reply = json.loads(buf)
        err = reply.get("error") or {}
        if reply.get("id") is None and not reply.get("ok") and err.get("type") in _REFUSALS:
            # Refused before it was read (busy, peer not allowed): nothing was done.
            raise SyncUnavailable(str(err.get("reason", "refused")))
        if reply.get("id") != rid:
            raise SyncUnavailable("answer does not match the request")
        if reply.get("ok"):
            return reply.get("result")
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
