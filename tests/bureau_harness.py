"""Start the bureau simulator as a subprocess and talk to it over HTTPS with mutual TLS.

Reusable by any test that needs a real bureau: `Bureau(state, ready_file).start()`, then
`call()` / `checked()` (the answer validated against docs/bureau-api.yaml) and `admin()`.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import envelope_util as eu
from tests import openapi_util

ROOT = Path(__file__).resolve().parents[1]
KIOSK = "KIOSK-0001"
TODAY = "2025-06-30"
WANG = "110105195803120029"  # 王秀英: retiree, active card A00000001, photo of record
LI = "110105195501080017"  # 李建国: no photo of record
QIAN = "610113197410120092"  # 钱多多: three owed months
ZHOU = "420106195612010061"  # 周桂兰: card reported lost
WU = "330106198503170076"  # 吴昊: bank card only, application at the bank
NOBODY = "11010519491231002X"  # valid check character, not a persona
PIN = {WANG: "A00000001", LI: "A00000002", QIAN: "J00000010", ZHOU: "F00000007",
       WU: "G00000008"}
NETWORK_ERRORS = (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError)


@dataclass
class Bureau:
    """A running simulator and how to reach it."""

    state: Path
    ready_file: Path
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        self.ready_file.unlink(missing_ok=True)
        log = open(self.state.parent / "bureau.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators.bureau", "--state", str(self.state),
             "--port", "0", "--ready-file", str(self.ready_file), "--today", TODAY,
             "--seed", "7", *self.extra_args],
            cwd=ROOT, stdout=log, stderr=log,
        )
        deadline = time.monotonic() + 20
        while not self.ready_file.exists():
            assert self.process.poll() is None, "simulator exited during start"
            assert time.monotonic() < deadline, "simulator did not become ready"
            time.sleep(0.05)
        self.info = json.loads(self.ready_file.read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def file(self, name: str) -> str:
        return str(self.info["files"][name])

    def context(self, cert: str | None = "kiosk", verify_server: bool = True) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.file("server_ca"))  # what a kiosk pins
        if cert == "kiosk":
            ctx.load_cert_chain(self.file(f"kiosk_cert:{KIOSK}"), self.file(f"kiosk_key:{KIOSK}"))
        elif cert is not None:
            ctx.load_cert_chain(self.file(f"{cert}_cert"), self.file(f"{cert}_key"))
        return ctx

    def connect(self, cert: str | None = "kiosk") -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.info["port"],
                                           context=self.context(cert), timeout=10)

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None,
             conn: http.client.HTTPSConnection | None = None) -> tuple[int, dict[str, str], bytes]:
        own = conn is None
        conn = conn or self.connect()
        try:
            data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
            all_headers = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=data, headers=all_headers)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            if own:
                conn.close()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.info["admin_port"], timeout=10)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body))
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            return json.loads(resp.read())
        finally:
            conn.close()


# path templates as the OpenAPI document names them, to find the schema of each answer
_TEMPLATES = [(re.compile(r"^/v1/reference/kiosk-config/[^/]+$"),
               "/v1/reference/kiosk-config/{kiosk_id}"),
              (re.compile(r"^/v1/kiosks/[^/]+/heartbeat$"), "/v1/kiosks/{kiosk_id}/heartbeat")]


def checked(bureau: Bureau, method: str, path: str, body: Any = None, **kw: Any
            ) -> tuple[int, dict[str, str], Any]:
    """Call, then validate the answer body against the schema the document gives it."""
    status, headers, raw = bureau.call(method, path, body, **kw)
    template = next((t for rx, t in _TEMPLATES if rx.match(path)), path)
    schema = openapi_util.response_schema(template, method, status)
    if schema is None:
        assert raw == b"", f"{status} should have no body"
        return status, headers, None
    assert headers["content-type"].startswith("application/json")
    parsed = json.loads(raw)
    openapi_util.validate(schema, parsed)
    return status, headers, parsed


def tiny_jpeg(shade: int = 128) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (shade, shade, shade)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def sealed_item(bureau: Bureau, kind: str = "card_loss_report", id_number: str = WANG,
                name: str = "王秀英", key: str | None = None, kiosk: str = KIOSK,
                data: dict[str, Any] | None = None, pictures: list[Any] | None = None
                ) -> dict[str, Any]:
    key = key or str(uuid.uuid4())
    reference = f"KIOSK0001-20250630-{uuid.uuid4().int % 10**6:06d}-Q"
    card = PIN.get(id_number, "A00000001")
    assurance = {"method": "card_pin", "card_number": card, "card_auth": offline_proof(card)}
    defaults = {
        "card_loss_report": ({"card_number": PIN.get(id_number, "A00000001"),
                              "loss_type": "temporary", "assurance": assurance}, []),
        "pension_certification": (
            {"residence": "local", "on_behalf_of": None, "assurance": {"method": "none"},
             "liveness": {"passed": True, "challenge": "mouth_open_x3", "duration_ms": 5200}},
            [{"role": f"liveness_{i}", "jpeg_b64": tiny_jpeg(60 * i)} for i in range(1, 5)]),
    }
    default_data, default_pictures = defaults[kind]
    payload = {"format": 1, "kind": kind, "reference": reference,
               "citizen": {"id_number": id_number, "name": name},
               "data": default_data if data is None else data,
               "pictures": default_pictures if pictures is None else pictures}
    metadata = {"kind": kind, "created_at": "2025-06-30T08:00:00Z", "clock_synchronised": True,
                "boot_counter": 3, "created_monotonic_ms": 5000, "reference": reference,
                "idempotency_key": key, "kiosk_id": kiosk, "payload_format": 1}
    public = eu.load_public_key(bureau.file("hpke_public_pem"))
    envelope = eu.seal_envelope(public, metadata, payload)
    return {"idempotency_key": key, "reference": reference, "envelope": envelope}


def submit(bureau: Bureau, *items: dict[str, Any]) -> list[dict[str, Any]]:
    status, _, body = checked(bureau, "POST", "/v1/submissions", {"items": list(items)})
    assert status == 200
    return list(body["results"])


def card_answer(card_number: str, challenge: bytes, persona: str = "") -> bytes:
    """What the emulated card answers to INTERNAL AUTHENTICATE over `challenge`: the card
    emulator's key for it (the genuine card with that number unless `persona` names another)."""
    from simulators.card import crypto
    from simulators.card.personas import load_cards

    cards = load_cards()
    f = cards[persona] if persona else next(f for f in cards.values() if f.card_number == card_number)
    alg = crypto.ALG_SM4 if f.generation >= 3 else crypto.ALG_3DES
    key = crypto.diversify_card_auth(alg, f.card_auth_master(alg), f.card_number, f.card_id[:3])
    return crypto.cryptogram(alg, key, challenge)


def offline_proof(card_number: str, persona: str = "") -> dict[str, str]:
    """A card's proof made offline: a fresh challenge of the kiosk's and the card's answer."""
    challenge = os.urandom(8)
    return {"challenge": challenge.hex().upper(),
            "cryptogram": card_answer(card_number, challenge, persona).hex().upper()}


def card_auth_id(bureau: Bureau, card_number: str, persona: str = "") -> str:
    """Online card authentication: the bureau's challenge, the card's answer, the card_auth_id."""
    status, _, issued = checked(bureau, "POST", "/v1/card-auth/challenge", {"card_number": card_number})
    assert status == 200, issued
    answer = card_answer(card_number, bytes.fromhex(issued["challenge"]), persona)
    status, _, result = checked(bureau, "POST", "/v1/card-auth/verify", {
        "challenge_id": issued["challenge_id"], "card_number": card_number, "cryptogram": answer.hex().upper()})
    assert status == 200, result
    return str(result["card_auth_id"])


def card_pin(bureau: Bureau, card_number: str) -> dict[str, str]:
    """A card_pin assurance as a kiosk sends it after online card authentication."""
    return {"method": "card_pin", "card_number": card_number,
            "card_auth_id": card_auth_id(bureau, card_number)}


def query(bureau: Bureau, name: str, id_number: str, **extra: Any) -> tuple[int, Any]:
    card = PIN.get(id_number)
    assurance = card_pin(bureau, card) if card else {"method": "card_pin", "card_number": "X00000000"}
    body = {"id_number": id_number, "assurance": assurance, **extra}
    status, _, parsed = checked(bureau, "POST", f"/v1/queries/{name}", body)
    return status, parsed
