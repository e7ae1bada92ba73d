"""Plain-HTTP admin endpoint on 127.0.0.1 for tests and technicians: faults, stats, store.

  GET  /health                      {"ok": true}
  GET  /faults                      current faults
  PUT  /faults                      JSON object of fault fields to change; answers the result
  GET  /stats                       request/fault counters since start + stored counts
  GET  /submissions                 every stored first answer (no payloads)
  GET  /submissions/<key>           one: first answer, times received, stored payload
  GET  /heartbeats                  last heartbeat per kiosk
  PUT  /kiosk-config/<kiosk_id>     JSON object of settings pushed to that kiosk
  POST /ecard/tokens                {"id_number"}: the QR token a citizen's phone would show
                                    ({"token", "expires_at"}; any valid ID number, a persona or not)
  PUT  /ecard/clock                 {"offset_s"}: the e-card clock runs this far ahead (expiry tests)
  PUT  /ecard/status/<id_number>    {"status": none|active|suspended}
  GET  /ecard/state                 e-card states, family changes, counts, clock offset
  POST /ecard/reset                 forget every e-card, family and certificate change; offset 0
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .ecard import STATUSES, ECardDesk
from .faults import Dice
from .personas import id_number_valid
from .replies import log
from .server import Stats
from .store import Store

ADMIN_MAX_BODY = 1024 * 1024


class AdminServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dice: Dice, stats: Stats,
                 store: Store, ecard: ECardDesk | None = None) -> None:
        self.dice, self.stats, self.store, self.ecard = dice, stats, store, ecard
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
        if path == "/ecard/state" and server.ecard is not None:
            return self._reply(200, {**server.ecard.kept.snapshot(),
                                     "clock_offset_s": server.ecard.clock_offset_s})
        self._reply(404, {"error": "unknown path"})

    def do_POST(self) -> None:
        ecard, path = self.server.ecard, self.path.split("?", 1)[0]
        try:
            body = self._body()
            if ecard is None:
                raise LookupError
            if path == "/ecard/tokens":
                id_number = body.get("id_number") if isinstance(body, dict) else None
                if not isinstance(id_number, str) or not id_number_valid(id_number):
                    raise ValueError("id_number must be a valid ID number")
                return self._reply(200, ecard.issue_token(id_number))
            if path == "/ecard/reset":
                ecard.kept.reset()
                ecard.clock_offset_s = 0
                log("ecard_reset")
                return self._reply(200, {"ok": True})
        except (ValueError, json.JSONDecodeError) as exc:
            return self._reply(400, {"error": str(exc)})
        except LookupError:
            pass
        self._reply(404, {"error": "unknown path"})

    def _put_ecard(self, path: str, body: dict[str, Any]) -> Any:
        ecard = self.server.ecard
        if ecard is None:
            return None
        if path == "/ecard/clock":
            offset = body.get("offset_s")
            if type(offset) is not int:
                raise ValueError("offset_s must be an integer")
            ecard.clock_offset_s = offset
            return {"offset_s": offset}
        if path.startswith("/ecard/status/"):
            id_number, status = path.rsplit("/", 1)[1], body.get("status")
            if status not in STATUSES or ecard.personas.get(id_number) is None:
                raise ValueError("status must be none|active|suspended, for a persona")
            ecard.kept.set_state(id_number, str(status), ecard.answers.today.isoformat())
            return {"status": status}
        return None

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
            answer = self._put_ecard(path, body)
            if answer is not None:
                return self._reply(200, answer)
        except (ValueError, json.JSONDecodeError) as exc:
            return self._reply(400, {"error": str(exc)})
        self._reply(404, {"error": "unknown path"})
