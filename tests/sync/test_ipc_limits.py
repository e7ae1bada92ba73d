"""The daemon's local socket under abuse (issue 13, #9): a flood of half-sent connections, a huge
line, deeply nested JSON, a peer of another uid, and queries the UI has already given up on.

Everything runs against the real daemon process (`python -m kiosk.cli.sync run`) on a real UNIX
socket, with the bureau simulator behind it over mTLS."""

from __future__ import annotations

import json
import os
import resource
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.sync.client import BureauRejected
from kiosk.sync.ipc import SyncClient, SyncUnavailable
from tests.sync.helpers import CARD, UNKNOWN_ID
from tests.sync.simproc import BureauSim, start_daemon

NOBODY = 65534


class Daemon:
    def __init__(self, proc: Any, socket_path: Path, log: Path) -> None:
        self.proc, self.socket_path, self.log = proc, socket_path, log

    def proc_status(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def raw(self, payload: bytes, timeout: float = 10.0) -> dict[str, Any] | None:
        """Send payload on a fresh connection; the daemon's one-line answer, or None when it
        closed the connection without one."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket_path))
            sender = threading.Thread(target=_send_quietly, args=(s, payload), daemon=True)
            sender.start()
            buf = b""
            try:
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except (TimeoutError, ConnectionResetError):
                pass
            sender.join(timeout)
        first, newline, _ = buf.partition(b"\n")
        return json.loads(first) if newline else None


def _connect_patiently(s: socket.socket, path: Path) -> None:
    """connect(), waiting while the listen backlog is full (EAGAIN) as a blocking client would."""
    for _ in range(2000):
        try:
            s.connect(str(path))
            return
        except BlockingIOError:
            threading.Event().wait(0.001)
        except OSError:
            return


def _send_quietly(s: socket.socket, payload: bytes) -> None:
    try:
        s.sendall(payload)
    except OSError:
        pass  # the daemon may refuse before it has read everything


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BureauSim]:
    sim = BureauSim(tmp_path_factory.mktemp("bureau")).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def daemon(bureau: BureauSim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    work = tmp_path_factory.mktemp("daemon")
    cfg = bureau.kiosk_config(work / "data", heartbeat_s=3600.0, reference_s=3600.0)
    sock = Path(next(line.split("=", 1)[1].strip().strip('"') for line in cfg.read_text()
                     .splitlines() if line.startswith("socket_path")))
    log = work / "daemon.log"
    proc = start_daemon(cfg, log)
    client = SyncClient(sock)
    for _ in range(400):
        if client.status(timeout=0.5).online:
            break
        assert proc.poll() is None, log.read_text()
        threading.Event().wait(0.05)
    else:
        raise AssertionError("daemon did not reach the bureau: " + log.read_text()[-2000:])
    yield Daemon(proc, sock, log)
    proc.terminate()
    proc.wait(20)


@pytest.fixture
def many_fds() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def half_sent(daemon: Daemon, n: int) -> list[socket.socket]:
    """n connections that each send half a request and then hold still (the caller closes them)."""
    held: list[socket.socket] = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        held.append(s)
        _connect_patiently(s, daemon.socket_path)
        try:
            s.send(b'{"id": 1, "op": "sta')
        except OSError:
            pass  # refused at once: what a cap should do
    return held


def test_a_thousand_half_sent_connections_do_not_exhaust_threads_or_fds(daemon, many_fds):
    """GIVEN 1,000 connections that each send half a request and then hold still
    THEN the daemon's threads and descriptors stay bounded, and a status request answers."""
    threads0, fds0 = daemon.proc_status("Threads"), daemon.fds()
    held: list[socket.socket] = []
    try:
        held = half_sent(daemon, 1000)
        threads, fds = daemon.proc_status("Threads"), daemon.fds()
        print(f"daemon with 1000 half-sent connections held: threads {threads0} -> {threads}, "
              f"fds {fds0} -> {fds}")
        status = SyncClient(daemon.socket_path).call("status", timeout=5)
        assert status["daemon_running"] is True
        assert threads <= threads0 + 8, "a thread per connection"
        assert fds <= fds0 + 80, "a descriptor per held connection"
    finally:
        for s in held:
            s.close()


def test_a_32_mib_line_is_refused_without_buffering_it(daemon):
    """GIVEN one request line of 32 MiB WHEN it is sent THEN it is answered with a refusal and
    the daemon's peak memory grows by far less than the line."""
    peak0 = daemon.proc_status("VmHWM")
    filler = b"A" * (32 * 1024 * 1024)
    line = (b'{"id": 7, "op": "query", "kind": "card_status", "body": {"pad": "' + filler
            + b'"}}\n')
    reply = daemon.raw(line, timeout=30)
    grown_mb = (daemon.proc_status("VmHWM") - peak0) / 1024
    print(f"32 MiB line: reply={reply} peak RSS grew {grown_mb:.1f} MB")
    assert reply is not None and reply["ok"] is False
    assert reply["error"]["type"] == "BadRequest" and "too large" in reply["error"]["reason"]
    assert grown_mb < 16
    assert SyncClient(daemon.socket_path).call("ping", timeout=5) == {"pong": True}


@pytest.mark.parametrize("depth", [100_000, 400])
def test_deeply_nested_json_is_answered_with_an_error_and_no_traceback(daemon, depth):
    """GIVEN a request nested 100,000 deep (beyond the parser's recursion) or a query body
    nested 400 deep (parses, but nothing the bureau would take) THEN a clean BadRequest answer
    and no traceback in the daemon's output."""
    before = len(daemon.log_text())
    nested = "[" * depth + "]" * depth
    line = ('{"id": 9, "op": "query", "kind": "card_status", "body": {"x": ' + nested
            + "}}\n").encode()
    reply = daemon.raw(line)
    new_output = daemon.log_text()[before:]
    print(f"nested {depth}: reply={reply} traceback={'Traceback' in new_output}")
    assert reply is not None, "connection closed without an answer"
    assert reply["ok"] is False and reply["error"]["type"] == "BadRequest"
    assert "Traceback" not in new_output
    assert SyncClient(daemon.socket_path).call("ping", timeout=5) == {"pong": True}


def test_a_client_running_as_another_uid_is_refused(daemon):
    """GIVEN the socket file and its folder opened to everyone (a permission slip)
    WHEN a process running as nobody asks for the status THEN it gets no status: peer
    credentials are checked, not only the file mode."""
    os.chmod(daemon.socket_path.parent, 0o755)
    os.chmod(daemon.socket_path, 0o666)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, then ask
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                answer = repr(SyncClient(daemon.socket_path).call("status", timeout=5))
            except Exception as exc:
                answer = f"refused: {type(exc).__name__}: {exc}"
            os.write(write_end, answer.encode()[:4000])
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        answer = fh.read().decode()
    os.waitpid(pid, 0)
    os.chmod(daemon.socket_path.parent, 0o700)
    os.chmod(daemon.socket_path, 0o660)
    print("client as nobody:", answer)
    assert answer.startswith("refused:") and "not allowed" in answer
    assert SyncClient(daemon.socket_path).call("ping", timeout=5) == {"pong": True}


def test_a_query_the_client_gave_up_on_is_not_sent_to_the_bureau(daemon, bureau):
    """GIVEN a slow bureau (1.5 s a request) and a first query holding the line
    WHEN a second client asks with a 0.3 s timeout and gives up, then a third asks
    THEN the bureau sees the first and the third query only."""
    body = {"id_number": UNKNOWN_ID, "assurance": {"method": "card_pin", "card_number": CARD}}
    client = SyncClient(daemon.socket_path)

    def refused() -> int:
        st = bureau.stats()
        return st.get("status_403", 0) + st.get("status_404", 0)

    before = refused()
    bureau.set_faults(latency_ms=1500)
    try:
        first = threading.Thread(target=_expect_rejected, args=(client, body), daemon=True)
        first.start()
        while bureau.stats().get("requests", 0) == 0:  # pragma: no cover - started at once
            pass
        with pytest.raises(SyncUnavailable):
            client.query("card_status", body, timeout=0.3)
        first.join(20)
        _expect_rejected(client, body)
    finally:
        bureau.clear_faults()
    sent = refused() - before
    print(f"queries the bureau answered: {sent} (3 asked, 1 given up)")
    assert sent == 2


def _expect_rejected(client: SyncClient, body: dict[str, Any]) -> None:
    with pytest.raises(BureauRejected):
        client.query("card_status", body, timeout=10)
