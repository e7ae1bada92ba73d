"""HTTPS with mutual TLS (stdlib http.server + ssl), fault injection and counters."""

from __future__ import annotations

import collections
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .faults import Dice
from .pki import StateFiles
from .replies import Reply, canonical, log, problem
from .service import Bureau

MAX_BODY = 16 * 1024 * 1024
HANDSHAKE_TIMEOUT_S = 10
IDLE_TIMEOUT_S = 30  # keep-alive connections idle longer than this are closed


class Stats:
    """In-memory counters for GET /stats; they start from zero at every process start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def server_context(files: StateFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.server_cert, files.server_key)
    # Kiosks are verified against the kiosk CA only: the server CA's certificates are no login.
    context.load_verify_locations(cafile=str(files.kiosk_ca))
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate from our CA, no service
    return context


def _common_name(cert: dict[str, Any] | None) -> str:
    for rdn in (cert or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return ""


class BureauServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], bureau: Bureau, dice: Dice,
                 context: ssl.SSLContext) -> None:
        self.bureau, self.dice, self.context, self.stats = bureau, dice, context, Stats()
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake runs here, in the connection's own thread, so a slow or hostile
        # client cannot stall the accept loop.
        if self.dice.roll(self.dice.faults.tls_failure_rate):
            self.stats.add("fault_tls_failure")
            log("fault", kind="tls_failure", peer=client_address[0])
            request.close()
            return
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.stats.add("tls_refused")
            log("tls_refused", peer=client_address[0],
                reason=getattr(exc, "reason", None) or type(exc).__name__)
            request.close()
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BureauSimulator/1"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    server: BureauServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is written by _serve instead

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        server, dice = self.server, self.server.dice
        faults = dice.faults
        kiosk_id = _common_name(self.connection.getpeercert())  # type: ignore[attr-defined]
        server.stats.add("requests")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self._send(problem(413, "payload_too_large", "request body too large"),
                              started, kiosk_id)
        body = self.rfile.read(length) if length else b""
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if dice.roll(faults.throttle_rate):
            server.stats.add("fault_throttle")
            return self._send(problem(429, "throttled", "slow down",
                                      retry_after=faults.retry_after_s), started, kiosk_id)
        if dice.roll(faults.error_rate):
            server.stats.add("fault_error")
            status = faults.error_status
            code = "unavailable" if status == 503 else "internal_error"
            retry = faults.retry_after_s if status == 503 else None
            return self._send(problem(status, code, "injected failure", retry_after=retry),
                              started, kiosk_id)
        drop = dice.roll(faults.drop_rate)
        drop_after = drop and dice.coin()
        if drop and not drop_after:
            return self._drop("before", started)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = server.bureau.handle(self.command, self.path, headers, body, kiosk_id)
        except Exception as exc:  # the simulator must answer, not die, on its own bugs
            log("internal_error", path=self.path, error=type(exc).__name__)
            reply = problem(500, "internal_error", "simulator error")
        if drop_after:
            return self._drop("after", started)
        if reply.status == 200 and dice.roll(faults.garbage_rate):
            server.stats.add("fault_garbage")
            garbage = (b"<html><body>502 gateway hiccup</body></html>", "text/html")
            if dice.coin():
                garbage = (b'{"unexpected":true,"results":"not a list"}', "application/json")
            return self._send_raw(200, garbage[0], garbage[1], (), started, kiosk_id)
        self._send(reply, started, kiosk_id)

    def _drop(self, when: str, started: float) -> None:
        self.server.stats.add(f"fault_drop_{when}")
        log("fault", kind="drop", when=when, path=self.path)
        self.close_connection = True
        try:
            # RST rather than FIN, like a middlebox or a crashed server would
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass

    def _send(self, reply: Reply, started: float, kiosk_id: str) -> None:
        data = b"" if reply.body is None else canonical(reply.body)
        ctype = "application/json" if reply.body is not None else ""
        self._send_raw(reply.status, data, ctype, reply.headers, started, kiosk_id)

    def _send_raw(self, status: int, data: bytes, ctype: str,
                  headers: tuple[tuple[str, str], ...], started: float, kiosk_id: str) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype + "; charset=utf-8")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.server.stats.add(f"status_{status}")
        log("request", kiosk=kiosk_id or "-", method=self.command, path=self.path,
            status=status, ms=int((time.monotonic() - started) * 1000))
