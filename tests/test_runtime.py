"""Process plumbing: systemd notify over real datagram sockets, the worker facility, log masking."""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import uuid

from kiosk.runtime import logs
from kiosk.runtime.sdnotify import Notifier, notify, watchdog_interval
from kiosk.runtime.workers import Workers


def _listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


def test_notify_to_a_path_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    with _listener(path) as sock:
        assert notify("READY=1\nSTATUS=up", {"NOTIFY_SOCKET": path})
        assert sock.recv(100) == b"READY=1\nSTATUS=up"


def test_notify_to_an_abstract_socket():
    name = f"kiosk-test-{uuid.uuid4().hex}"
    with _listener("\0" + name) as sock:
        assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"WATCHDOG=1"


def test_notify_without_a_service_manager_does_nothing(tmp_path):
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False


def test_watchdog_pings_are_rate_limited_and_status_sent_on_change(tmp_path):
    path = str(tmp_path / "n.sock")
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(env) == 2.0
    with _listener(path) as sock:
        n = Notifier(env)
        n.tick(100.0, status="screen=home")
        n.tick(100.1, status="screen=home")
        n.tick(101.2, status="screen=home")
        sock.settimeout(0.2)
        got = []
        try:
            while True:
                got.append(sock.recv(100))
        except TimeoutError:
            pass
    assert got == [b"WATCHDOG=1", b"STATUS=screen=home", b"WATCHDOG=1"]


def test_watchdog_for_another_pid_is_ignored():
    assert watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}) is None


def test_dropping_a_session_discards_its_pending_and_finished_jobs():
    workers = Workers(2)
    gate = threading.Event()
    done = workers.submit("fast", lambda: "secret-a", session=1)
    done.future.result(timeout=2)
    slow = workers.submit("slow", gate.wait, 5, session=1)
    other = workers.submit("other", lambda: "keep", session=2)
    other.future.result(timeout=2)
    assert workers.drop_session(1) == 2
    gate.set()
    slow.future.result(timeout=2)
    finished = workers.poll()
    assert [j.name for j in finished] == ["other"]
    assert workers.pending() == []
    workers.close()


def test_job_results_are_delivered_on_the_polling_thread():
    workers = Workers(1)
    seen = []
    job = workers.submit("x", lambda: 42, on_done=lambda j: seen.append((j.result(), threading.current_thread().name)))
    job.future.result(timeout=2)
    workers.poll()
    assert seen == [(42, threading.current_thread().name)]
    workers.close()


def test_log_lines_are_key_value_and_masked():
    stream = io.StringIO()
    logs.setup("info", stream)
    logging.getLogger("kiosk.test").info("event=lookup id=%s", "11010519491231002X")
    line = stream.getvalue().strip()
    assert line == "level=info logger=kiosk.test event=lookup id=1101**********002X"


def test_a_job_stuck_in_a_device_call_does_not_keep_the_process_from_exiting():
    """A PC/SC call to a pcscd that went away blocks for good; the process must still exit
    (with concurrent.futures' executor it waited for the worker forever)."""
    import subprocess
    import sys

    code = ("import threading\n"
            "from kiosk.runtime.workers import Workers\n"
            "w = Workers()\n"
            "w.submit('stuck', threading.Event().wait)\n"
            "done = w.submit('quick', lambda: 42)\n"
            "import time\n"
            "while not done.done: time.sleep(0.01)\n"
            "print(done.result())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr


def test_cancelled_jobs_never_run_and_close_cancels_what_waits():
    import threading

    from kiosk.runtime.workers import Workers

    w = Workers(max_workers=1)
    gate = threading.Event()
    ran: list[str] = []
    w.submit("blocker", gate.wait, session=1)
    waiting = w.submit("waiting", lambda: ran.append("waiting"), session=2)
    assert w.drop_session(2) == 1
    later = w.submit("later", lambda: ran.append("later"), session=3)
    w.close()
    gate.set()
    import time

    time.sleep(0.2)
    assert ran == [] and waiting.future.cancelled() and later.future.cancelled()
