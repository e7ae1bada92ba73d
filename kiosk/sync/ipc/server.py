"""The daemon's end of the socket: one selector thread for every connection, one worker thread
for the requests that reach the bureau.

Only this user, root and the UI's group (sync.ipc_group, checked with SO_PEERCRED and
SO_PEERGROUPS) are answered. Every limit below bounds what a stuck or hostile client can cost.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import queue
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.sync.ipc.protocol import (
    MAX_LINE,
    SLOW_OPS,
    Handler,
    Message,
    Refused,
    answer,
    encode,
    parse_request,
    timeout_of,
)

log = logging.getLogger(__name__)

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
_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux 4.13+


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
        self._queries: queue.Queue[tuple[_Conn, Message, float] | None] = queue.Queue(
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
                self._queries.put_nowait((conn, req, time.monotonic() + timeout_of(req)))
            except queue.Full:
                self._refuse_sock(conn.sock, Refused("Busy", "too many queries waiting"))
            return False
        if not self._send_now(conn, answer(self.dispatch, req)):
            return False
        conn.deadline = time.monotonic() + self.read_deadline_s  # the next line, if any
        return True

    def _send_now(self, conn: _Conn, reply: Message) -> bool:
        """A quick answer, written without waiting: a client that does not read it is closed."""
        data = encode(reply)
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
            sock.send(encode(refusal.reply()))
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
                data = encode(answer(self.dispatch, req))
                conn.sock.settimeout(WRITE_DEADLINE_S)
                with contextlib.suppress(OSError):
                    conn.sock.sendall(data)
            finally:
                conn.sock.close()


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
