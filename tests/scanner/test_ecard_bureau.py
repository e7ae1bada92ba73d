"""Desk.scan_ecard_qr and Desk.ecard_sign_in against the simulators, with no card stack (so no
pcscd and no lock): the bureau simulator behind the real sync daemon over mutual TLS, the scanner
simulator on a pty and the synthetic camera showing the phone. A fresh token, scanned or seen by
the camera, signs the citizen in and its assurance serves a query; reuse, expiry (the bureau's
admin clock), a malformed and a forged token and a suspended e-card are each refused with the
bureau's code; an unreachable bureau is query.error.offline and leaves the token unused."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk import config
from kiosk.hw.registry import Devices, Unavailable, open_devices
from kiosk.services.desk import Desk
from kiosk.services.ecard_signin import EcardRefused, EcardSignIn
from kiosk.services.errors import explain
from kiosk.services.queries import QueryFailed
from simulators.scanner import ScannerSim
from tests import openapi_util
from tests.bureau_harness import Bureau

QIAN = ("610113197410120092", "钱多多")
CHEN = "310104198807230027"  # e-card suspended by the bureau


@dataclass
class Hall:
    bureau: Bureau
    scanner: ScannerSim
    devices: Devices
    desk: Desk

    def issue(self, id_number: str = QIAN[0]) -> str:
        """What the citizen's phone shows, issued by the e-card platform a moment ago."""
        return str(self.bureau.admin("POST", "/ecard/tokens", {"id_number": id_number})["token"])

    def refused(self, token: str) -> EcardRefused:
        with pytest.raises(EcardRefused) as caught:
            self.desk.ecard_sign_in(token)
        return caught.value


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    out = tmp_path_factory.mktemp("ecard")
    bureau = Bureau(out / "bureau", out / "bureau.ready.json")
    bureau.start()
    state = out / "bureau"
    env = {**os.environ, "KIOSK_DATA_DIR": str(out / "data"), "KIOSK_ID": "KIOSK-0001", "KIOSK_CONFIG": "",
           "KIOSK_SYNC_BUREAU_URL": f"https://127.0.0.1:{bureau.info['port']}",
           "KIOSK_SYNC_CA_FILE": str(state / "server-ca.pem"),
           "KIOSK_SYNC_CERT_FILE": str(state / "kiosk-KIOSK-0001.pem"),
           "KIOSK_SYNC_KEY_FILE": str(state / "kiosk-KIOSK-0001.key"),
           "KIOSK_SYNC_BUREAU_PUBLIC_KEY_FILE": str(state / "bureau-hpke-public.pem"),
           "KIOSK_SYNC_SOCKET_PATH": str(out / "sync.sock"),
           "KIOSK_SYNC_IDLE_POLL_S": "0.2", "KIOSK_SYNC_BACKOFF_BASE_S": "0.2", "KIOSK_SYNC_BACKOFF_MAX_S": "2"}
    daemon = _start_daemon(env, out)
    scanner = ScannerSim().start()
    cfg = config.load(None, environ={**env, "KIOSK_READER": "none", "KIOSK_PRINTER": "none", "KIOSK_GPIO": "mock",
                                     "KIOSK_CAMERA": "synthetic:realtime=0,seed=1",
                                     "KIOSK_SCANNER": f"serial:{scanner.device}"})
    from kiosk.services.container import build_services

    devices = open_devices(cfg)
    services = build_services(cfg, devices)
    deadline = time.monotonic() + 20
    while not services.sync.status(timeout=1.0).online:  # the daemon has reached the bureau
        assert time.monotonic() < deadline, "bureau not reached"
        time.sleep(0.2)
    try:
        yield Hall(bureau, scanner, devices, Desk(services))
    finally:
        services.outbox.close()
        devices.close()
        scanner.close()
        daemon.terminate()
        daemon.wait(timeout=10)
        bureau.stop()


def _start_daemon(env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    sock = Path(env["KIOSK_SYNC_SOCKET_PATH"])
    log = open(out / "sync.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "run"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert proc.poll() is None, f"sync daemon exited; see {out / 'sync.log'}"
        assert time.monotonic() < deadline, "sync daemon did not start"
        time.sleep(0.05)
    return proc


@pytest.fixture(autouse=True)
def fresh(hall: Hall) -> Iterator[None]:
    """The e-card state reset; every sign-in the kiosk sends, and every answer it accepts, checked
    against the contract (docs/bureau-api.yaml) as it passes."""
    hall.bureau.admin("POST", "/ecard/reset", {})
    queries = hall.desk.queries
    real = queries._query

    def checked(kind: str, body: dict, timeout: float | None = None) -> dict:
        if kind == "ecard_sign_in":
            openapi_util.validate("ECardSignInRequest", body)
        answer = real(kind, body, timeout)
        if kind == "ecard_sign_in":
            openapi_util.validate(str(openapi_util.response_schema("/v1/ecard/sign-in", "post", 200)), answer)
        return answer

    queries._query = checked
    yield
    queries._query = real
    hall.bureau.admin("PUT", "/faults", {"error_rate": 0})
    hall.bureau.admin("POST", "/ecard/reset", {})


def test_a_fresh_token_from_the_scanner_signs_the_citizen_in_once(hall):
    token = hall.issue()
    assert hall.desk.ecard_qr_source() == "scanner"
    threading.Timer(0.3, hall.scanner.scan, args=(token,)).start()
    scanned = hall.desk.scan_ecard_qr(5.0)
    assert scanned == token
    signed = hall.desk.ecard_sign_in(scanned)
    assert isinstance(signed, EcardSignIn) and (signed.id_number, signed.name) == QIAN
    assert signed.verification_id.startswith("EV-") and signed.expires_in_s == 1800
    # the session's queries cite it, and the bureau takes it for this citizen
    assert hall.desk.card_status(QIAN[0], signed.assurance) is not None
    assert hall.refused(token).code == "token_used"  # single use


def test_a_fresh_token_shown_to_the_camera_signs_in_where_there_is_no_scanner(hall):
    token = hall.issue()
    fitted = hall.devices.scanner
    hall.devices.scanner = Unavailable("scanner", "health.scanner.not_installed", "configured as none")
    hall.desk.camera.show_qr(token)
    try:
        assert hall.desk.ecard_qr_source() == "camera"
        assert hall.desk.scan_ecard_qr(5.0) == token
    finally:
        hall.desk.camera.show_qr(None)
        hall.devices.scanner = fitted
    assert hall.desk.ecard_sign_in(token).name == QIAN[1]


def test_an_expired_token_is_refused_with_its_code_and_message(hall):
    token = hall.issue()
    hall.bureau.admin("PUT", "/ecard/clock", {"offset_s": 61})  # a token lives 60 s
    exc = hall.refused(token)
    assert exc.code == "token_expired" and exc.reason == "ecard.error.token_expired"
    assert explain(exc).body == "ecard.error.token_expired.body" and explain(exc).retry


def test_a_malformed_token_is_refused(hall):
    assert hall.refused("ESSC1.bm90LWEtdG9rZW4.AAAA").code == "token_malformed"


def test_a_forged_token_is_refused_and_the_real_one_still_works(hall):
    token = hall.issue()
    head, mac = token.rsplit(".", 1)
    forged = f"{head}.{mac[:5]}{'A' if mac[5] != 'A' else 'B'}{mac[6:]}"
    assert hall.refused(forged).code == "token_forged"
    assert hall.desk.ecard_sign_in(token).id_number == QIAN[0]


def test_a_suspended_ecard_is_refused_as_revoked(hall):
    exc = hall.refused(hall.issue(CHEN))
    assert exc.code == "token_revoked" and not explain(exc).retry


def test_an_unreachable_bureau_is_offline_and_the_token_stays_unused(hall):
    token = hall.issue()
    hall.bureau.admin("PUT", "/faults", {"error_rate": 1})
    with pytest.raises(QueryFailed) as caught:
        hall.desk.ecard_sign_in(token)
    assert caught.value.reason == "query.error.offline"
    hall.bureau.admin("PUT", "/faults", {"error_rate": 0})
    assert hall.desk.ecard_sign_in(token).name == QIAN[1]
