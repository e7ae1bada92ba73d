"""Plain-HTTP admin endpoint on 127.0.0.1 for tests and technicians: faults, stats, store.

  GET  /health                      {"ok": true}
  GET  /faults                      current faults
  PUT  /faults                      JSON object of fault fields to change; answers the result
  GET  /stats                       request/fault counters since start + stored counts
  GET  /submissions                 every stored first answer (no payloads)
  GET  /submissions/<key>           one: first answer, times received, stored payload
  GET  /heartbeats                  last heartbeat per kiosk
  PUT  /kiosk-config/<kiosk_id>     JSON object of settings pushed to that kiosk
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .faults import Dice
from .replies import log
from .server import Stats
from .store import Store

ADMIN_MAX_BODY = 1024 * 1024


class AdminServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dice: Dice, stats: Stats,
                 store: Store) -> None:
        self.dice, self.stats, self.store = dice, stats, store
        super().__init__(address, AdminHandler)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="admin", daemon=True)
        thread.start()
        return thread


class AdminHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AdminServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > ADMIN_MAX_BODY:
            raise ValueError("body too large")
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self) -> None:
        server, path = self.server, self.path.split("?", 1)[0]
        if path == "/health":
            return self._reply(200, {"ok": True})
        if path == "/faults":
            return self._reply(200, server.dice.faults.as_dict())
        if path == "/stats":
            return self._reply(200, {**server.stats.snapshot(), **server.store.counts()})
        if path == "/submissions":
            items = server.store.submissions()
            return self._reply(200, {"count": len(items), "items": items})
        if path.startswith("/submissions/"):
            found = server.store.submission(path.rsplit("/", 1)[1])
            if found is None:
                return self._reply(404, {"error": "no such submission"})
            return self._reply(200, {
                "answer": json.loads(found["answer"]),
                "times_received": found["times_received"],
                "payload": json.loads(found["payload"]) if found["payload"] else None,
            })
        if path == "/heartbeats":
            beats = server.store.heartbeats()
            for beat in beats:
                beat["body"] = json.loads(beat["body"])
            return self._reply(200, {"heartbeats": beats})
        self._reply(404, {"error": "unknown path"})

    def do_PUT(self) -> None:
        server, path = self.server, self.path.split("?", 1)[0]
        try:
            body = self._body()
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            if path == "/faults":
                faults = server.dice.update(body)
                log("faults_changed", **faults.as_dict())
                return self._reply(200, faults.as_dict())
            if path.startswith("/kiosk-config/"):
                server.store.put_kiosk_settings(path.rsplit("/", 1)[1], json.dumps(body))
                return self._reply(200, body)
        except (ValueError, json.JSONDecodeError) as exc:
            return self._reply(400, {"error": str(exc)})
        self._reply(404, {"error": "unknown path"})
