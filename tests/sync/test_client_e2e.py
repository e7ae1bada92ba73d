"""The bureau client and the sync daemon against the real simulator, over mutual TLS.

Every request the client sends and every answer it takes is checked against
docs/bureau-api.yaml through tests/openapi_util.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kiosk.runtime.sdnotify import Notifier
from kiosk.sync.client import QUERY_PATHS, BureauClient, BureauGarbage, BureauUnreachable
from kiosk.sync.daemon import SyncDaemon
from kiosk.sync.ipc import SyncClient
from kiosk.sync.outbox import Outbox
from kiosk.sync.seal import BureauSealer
from kiosk.sync.settings import SyncSettings
from tests import openapi_util
from tests.sync.helpers import CARD, ID_NUMBER, UNKNOWN_ID, certification, jpeg_bytes, loss_report
from tests.sync.simproc import ROOT, BureauSim, start_daemon

pytestmark = pytest.mark.slow

_REQUEST_SCHEMAS = {"/v1/submissions": "SubmissionBatch", "/v1/identity/verify":
                    "IdentityVerifyRequest", "/v1/queries/card-status": "CitizenQuery",
                    "/v1/queries/payment-records": "YearInsuranceQuery",
                    "/v1/card-auth/challenge": "CardAuthChallengeRequest",
                    "/v1/card-auth/verify": "CardAuthVerifyRequest"}


class CheckedClient(BureauClient):
    """The real client, with every body it sends and takes validated against the contract."""

    seen: ClassVar[list[tuple[str, int]]] = []  # every instance's requests, for the test to read

    def request(self, method, path, body=None, headers=None):
        if body is not None:
            doc = json.loads(body)
            if path.endswith("/heartbeat"):
                openapi_util.validate("Heartbeat", doc)
            else:
                openapi_util.validate(_REQUEST_SCHEMAS[path], doc)
            if path == "/v1/submissions":
                for item in doc["items"]:
                    openapi_util.validate("SubmissionItem", item)
        self._path, self._method = path, method
        return super().request(method, path, body, headers)

    def _judge(self, resp, data):
        template = self._path
        if "/kiosks/" in template:
            template = "/v1/kiosks/{kiosk_id}/heartbeat"
        elif template.startswith("/v1/reference/kiosk-config/"):
            template = "/v1/reference/kiosk-config/{kiosk_id}"
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None  # garbage injected on purpose: the client must refuse it, tested below
        schema = openapi_util.response_schema(template, self._method, resp.status)
        if doc is not None and schema and not (resp.status == 200 and "unexpected" in doc):
            openapi_util.validate(schema, doc)
        CheckedClient.seen.append((template, resp.status))
        return super()._judge(resp, data)


@pytest.fixture(scope="module")
def bureau(tmp_path_factory) -> BureauSim:
    sim = BureauSim(tmp_path_factory.mktemp("bureau")).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(bureau: BureauSim) -> BureauSim:
    bureau.clear_faults()
    return bureau


def client(sim: BureauSim, cert: str = "", key: str = "", ca: str = "", **kw: Any) -> BureauClient:
    files = sim.files
    return CheckedClient(sim.url, sim.kiosk_id, ca or files["ca"],
                         cert or files[f"kiosk_cert:{sim.kiosk_id}"],
                         key or files[f"kiosk_key:{sim.kiosk_id}"], kw.get("timeout_s", 5.0))


def outbox(sim: BureauSim, tmp_path: Path) -> Outbox:
    sealer = BureauSealer.from_pem_file(sim.files["hpke_public_pem"])
    return Outbox(tmp_path / "data", sim.kiosk_id, sealer)


def settings(sim: BureauSim, tmp_path: Path, **kw: Any) -> SyncSettings:
    cfg_path = sim.kiosk_config(tmp_path / "data", **kw)
    from kiosk import config
    return SyncSettings.from_config(config.load(cfg_path, environ={}))


def run_daemon(sim: BureauSim, tmp_path: Path, **kw: Any) -> tuple[SyncDaemon, threading.Thread]:
    st = settings(sim, tmp_path, **kw)
    ob = Outbox(st.data_dir, st.kiosk_id, BureauSealer.from_pem_file(st.bureau_public_key_file))
    daemon = SyncDaemon(st, ob, lambda: client(sim), Notifier(environ={}))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    return daemon, thread


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_daemon_drains_the_queue_and_answers_queries(sim, tmp_path):
    ob = outbox(sim, tmp_path)
    pictures = [jpeg_bytes(i) for i in range(4)]
    refs = {ob.enqueue("card_loss_report", loss_report()).reference for _ in range(60)}
    refs |= {ob.enqueue("pension_certification", certification(pictures)).reference
             for _ in range(3)}
    daemon, thread = run_daemon(sim, tmp_path, batch_size=20)
    try:
        wait_for(lambda: ob.status().pending + ob.status().in_flight == 0)
        stored = {r[1]: r for r in sim.stored()}
        assert refs <= stored.keys() and all(stored[r][2] == "accepted" for r in refs)
        ui = SyncClient(daemon.settings.socket_path)
        wait_for(lambda: ui.status().online is True, 5)
        # card_pin stands on the card's proof (docs/card-authentication.md): online, through
        # the same socket, the bureau's challenge and the card's answer earn a card_auth_id
        from tests.bureau_harness import card_answer
        issued = ui.query("card_auth_challenge", {"card_number": CARD})
        auth = ui.query("card_auth_verify", {
            "challenge_id": issued["challenge_id"], "card_number": CARD,
            "cryptogram": card_answer(CARD, bytes.fromhex(issued["challenge"])).hex().upper()})
        answer = ui.query("card_status", {"id_number": ID_NUMBER, "assurance": {
            "method": "card_pin", "card_number": CARD, "card_auth_id": auth["card_auth_id"]}})
        openapi_util.validate("CardStatus", answer)
        assert answer["status"] == "reported_lost"  # the loss reports just delivered count
        assert sim.admin("GET", "/heartbeats")  # the daemon said hello
    finally:
        daemon.stop()
        thread.join(10)
    assert ("/v1/submissions", 200) in CheckedClient.seen
    ob.close()


def test_a_resent_batch_is_answered_as_duplicate_and_stored_once(sim, tmp_path):
    ob = outbox(sim, tmp_path)
    receipts = [ob.enqueue("card_loss_report", loss_report()) for _ in range(5)]
    items = ob.claim_batch(10)
    with client(sim) as c:
        first = c.submit(items)
        again = c.submit(items)  # e.g. the daemon died after sending, before acknowledging
    assert [o.action for o in first] == [o.action for o in again] == ["ack"] * 5
    stored = {r[0]: r for r in sim.stored()}
    for r in receipts:
        assert stored[r.idempotency_key][3] == 2  # received twice, stored once
    ob.close()


def test_429_retry_after_is_honoured(sim, tmp_path):
    sim.set_faults(throttle_rate=1.0, retry_after_s=3)
    daemon_settings = settings(sim, tmp_path)
    ob = Outbox(daemon_settings.data_dir, sim.kiosk_id,
                BureauSealer.from_pem_file(sim.files["hpke_public_pem"]))
    ob.enqueue("card_loss_report", loss_report())
    daemon = SyncDaemon(daemon_settings, ob, lambda: client(sim), Notifier(environ={}))
    daemon._next_heartbeat = float("inf")
    assert daemon.drain_once() == 0
    assert 2.9 <= ob.next_due_in() <= 3.0  # row-level: not before Retry-After
    assert daemon.link.hold_until - time.monotonic() >= 2.9  # daemon-level: no probing meanwhile
    sim.clear_faults()
    assert ob.claim_batch(1) == []
    ob.close()


def test_garbage_answers_are_retried_never_acknowledged(sim, tmp_path):
    ob = outbox(sim, tmp_path)
    receipt = ob.enqueue("card_loss_report", loss_report())
    sim.set_faults(garbage_rate=1.0)
    with client(sim) as c:
        for _ in range(4):  # both kinds of garbage: HTML and a wrong-schema JSON
            items = ob.claim_batch(1) or ob.claim_batch(1)
            with pytest.raises(BureauGarbage):
                c.submit(items)
            ob.fail([i.id for i in items], "garbage", retry_after=0)
            ob._conn().execute("UPDATE outbox SET next_attempt_at = 0")
        assert ob.status().pending == 1  # still queued
        sim.clear_faults()
        items = ob.claim_batch(1)
        assert [o.action for o in c.submit(items)] == ["ack"]
    ob.ack([i.id for i in items])
    assert ob.status().pending == 0
    assert sum(1 for r in sim.stored() if r[0] == receipt.idempotency_key) == 1


def test_permanent_rejections_are_dead_lettered_with_the_reason(sim, tmp_path):
    ob = outbox(sim, tmp_path)
    good = ob.enqueue("card_loss_report", loss_report())
    bad = ob.enqueue("card_loss_report", loss_report(id_number=UNKNOWN_ID))
    daemon, thread = run_daemon(sim, tmp_path)
    try:
        wait_for(lambda: ob.status().pending + ob.status().in_flight == 0)
    finally:
        daemon.stop()
        thread.join(10)
    [dead] = ob.dead_letters()
    assert dead["reference"] == bad.reference
    assert dead["last_error"].startswith("citizen_not_found")
    assert good.reference in {r[1] for r in sim.stored()}
    ob.close()


@pytest.mark.parametrize("which", ["expired", "rogue"])
def test_a_client_without_a_valid_certificate_is_refused(sim, tmp_path, which):
    files = sim.files
    before = sim.stats().get("tls_refused", 0)
    with client(sim, files[f"{which}_cert"], files[f"{which}_key"]) as c:
        with pytest.raises(BureauUnreachable) as err:
            c.query("card_status", {"id_number": ID_NUMBER,
                                    "assurance": {"method": "card_pin", "card_number": CARD}})
    assert "tls" in err.value.reason or "connection" in err.value.reason
    # The server counts the refused handshake on its own thread, possibly after the client has
    # already seen the refusal: give it a moment rather than read the counter racily.
    deadline = time.monotonic() + 5
    while sim.stats().get("tls_refused", 0) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.stats().get("tls_refused", 0) > before


def test_a_bureau_not_signed_by_the_pinned_ca_is_refused(sim, tmp_path):
    # Pin some other CA (the rogue client's issuer is not the bureau's): no trust, no request.
    wrong_ca = tmp_path / "other-ca.pem"
    wrong_ca.write_bytes(Path(sim.files["rogue_cert"]).read_bytes())
    with pytest.raises(BureauUnreachable) as err:
        client(sim, ca=str(wrong_ca)).query("card_status", {"id_number": ID_NUMBER,
                                                            "assurance": {"method": "none"}})
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.reason


def test_query_errors_are_typed(sim, tmp_path):
    from kiosk.sync.client import BureauRejected
    with client(sim) as c:
        with pytest.raises(BureauRejected) as err:
            c.query("card_status", {"id_number": UNKNOWN_ID,
                                    "assurance": {"method": "card_pin", "card_number": CARD}})
        assert err.value.status in (403, 404)
        sim.set_faults(error_rate=1.0, error_status=503, retry_after_s=2)
        with pytest.raises(BureauUnreachable) as err:
            c.query("card_status", {"id_number": ID_NUMBER,
                                    "assurance": {"method": "card_pin", "card_number": CARD}})
        assert err.value.status == 503
    assert set(QUERY_PATHS) >= {"card_status", "identity_verify"}


def test_sync_client_without_a_daemon_reads_offline(tmp_path):
    ui = SyncClient(tmp_path / "nobody.sock")
    assert ui.status().online is False and ui.status().daemon_running is False
    from kiosk.sync.ipc import SyncUnavailable
    with pytest.raises(BureauUnreachable):
        ui.query("card_status", {}, timeout=0.5)
    assert issubclass(SyncUnavailable, BureauUnreachable)


def test_cli_status_and_retry_dead(sim, tmp_path):
    ob = outbox(sim, tmp_path)
    ob.enqueue("card_loss_report", loss_report())
    [item] = ob.claim_batch(1)
    ob.dead_letter([item.id], "citizen_not_found: test")
    ob.close()
    cfg = sim.kiosk_config(tmp_path / "data")
    run = [sys.executable, "-m", "kiosk.cli.sync"]
    res = subprocess.run([*run, "status", "--json", "--config", str(cfg)], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 3  # the README's "sync daemon not running"
    st = json.loads(res.stdout)
    assert (st["pending"], st["dead"], st["online"], st["daemon_running"]) == (0, 1, None, False)
    out = subprocess.run([*run, "retry-dead", "--config", str(cfg)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("1 dead-lettered")
    res = subprocess.run([*run, "status", "--config", str(cfg)], cwd=ROOT, capture_output=True, text=True)
    out = res.stdout
    assert res.returncode == 3
    assert "pending         1" in out and "sync daemon not running" in out


def test_daemon_process_speaks_sd_notify_and_serves_the_socket(sim, tmp_path):
    import socket as _socket
    notify_path = Path(tempfile.mkdtemp(prefix="nt-", dir="/tmp")) / "notify"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(20)
    cfg = sim.kiosk_config(tmp_path / "data")
    proc = start_daemon(cfg, tmp_path / "daemon.log", NOTIFY_SOCKET=str(notify_path),
                        WATCHDOG_USEC="2000000")
    try:
        got: list[str] = []
        while not any(m.startswith("WATCHDOG=1") for m in got):
            got.append(sock.recv(4096).decode())
        assert got[0].startswith("READY=1") and "STATUS=" in got[0]
        socket_path = Path(tomllib.loads(cfg.read_text())["sync"]["socket_path"])
        ui = SyncClient(socket_path)
        assert ui.call("ping") == {"pong": True}
        with pytest.raises(ValueError):
            ui.call("no-such-op")
        assert ui.kick() and ui.status().daemon_running
        assert ui.report([{"device": "printer", "state": "degraded", "reason": "paper low"}],
                         {"pension_certification": 2})
        proc.terminate()
        assert proc.wait(15) == 0
        sock.settimeout(2)
        while not got[-1].startswith("STOPPING=1"):
            got.append(sock.recv(4096).decode())
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
