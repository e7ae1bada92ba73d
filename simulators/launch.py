"""Starts every available simulator as its own process, then runs a command against them.

`make run` uses it: `python -m simulators.launch -- python -m kiosk run --sim`. The command gets
KIOSK_* variables pointing at the simulators (ports, certificates); the simulators stop with it.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@dataclass
class Launched:
    name: str
    proc: subprocess.Popen
    env: dict[str, str] = field(default_factory=dict)


class LaunchError(Exception):
    """A simulator could not start; the message says which and why."""


def start_printer(out: Path) -> Launched:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulators.printer", "--port", str(port),
                             "--out", str(out / "receipts")])
    if not wait_for_port(port, proc=proc):
        proc.kill()
        raise LaunchError("printer simulator did not start")
    return Launched("printer", proc, {"KIOSK_PRINTER": f"tcp:127.0.0.1:{port}"})


def start_bureau(out: Path) -> Launched:
    """The bureau simulator over mutual TLS, and the kiosk's sync daemon pointed at it."""
    import json

    state = out / "bureau"
    ready = out / "bureau.ready.json"
    ready.unlink(missing_ok=True)
    log = open(out / "bureau.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "simulators.bureau", "--state", str(state), "--port", "0",
                             "--ready-file", str(ready)], stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise LaunchError(f"bureau simulator did not start (see {out / 'bureau.log'})")
        time.sleep(0.1)
    info = json.loads(ready.read_text())
    # the address, not "localhost": output must not depend on /etc/hosts (the certificate names both)
    env = {"KIOSK_SYNC_BUREAU_URL": f"https://127.0.0.1:{info['port']}",
           "KIOSK_SYNC_CA_FILE": str(state / "server-ca.pem"),  # the bureau's server CA only
           "KIOSK_SYNC_CERT_FILE": str(state / "kiosk-KIOSK-0001.pem"),
           "KIOSK_SYNC_KEY_FILE": str(state / "kiosk-KIOSK-0001.key"),
           "KIOSK_SYNC_BUREAU_PUBLIC_KEY_FILE": str(state / "bureau-hpke-public.pem"),
           "KIOSK_SYNC_SOCKET_PATH": str(out / "sync.sock"),
           "KIOSK_ID": "KIOSK-0001",
           "KIOSK_SIM_BUREAU_ADMIN": f"http://127.0.0.1:{info['admin_port']}"}
    return Launched("bureau", proc, env)


def start_sync_daemon(out: Path, env: dict[str, str]) -> Launched:
    log = open(out / "sync.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "run"], env=env, stdout=log, stderr=log)
    sock = Path(env["KIOSK_SYNC_SOCKET_PATH"])
    deadline = time.monotonic() + 20
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise LaunchError(f"sync daemon did not start (see {out / 'sync.log'})")
        time.sleep(0.1)
    return Launched("sync daemon", proc, {})


def start_card(out: Path) -> Launched:
    """pcscd with the vpcd virtual reader and the card emulator (needs root and the Debian packages)."""
    from simulators.card.stack import CardStack, StackUnavailable, missing_parts

    why = missing_parts()
    if why:
        raise LaunchError(f"card stack not started: {why}")
    stack = CardStack(workdir=out / "card", persona="activated")
    try:
        stack.start()
    except (StackUnavailable, OSError) as exc:
        raise LaunchError(f"card stack not started: {exc}") from exc
    return Launched("card", _StackProcess(stack), {"KIOSK_READER": "sim", "KIOSK_CARD_READER_NAME": "Virtual PCD 00 00",
                                                    "KIOSK_CARD_PSAM_READER_NAME": "Virtual PCD 00 01",
                                                    "KIOSK_SIM_CARD_CONTROL": str(stack.control_port)})


class _StackProcess:
    """Lets the card stack be stopped like the other simulators."""

    def __init__(self, stack) -> None:
        self.stack = stack

    def send_signal(self, sig: int) -> None:
        self.stack.stop()

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def kill(self) -> None:
        self.stack.stop()


STARTERS = (start_printer, start_bureau, start_card)

EXIT_SIMULATOR_FAILED = 3  # a simulator could not start: the command was not run


def _run_command(command: list[str], env: dict[str, str]) -> int:
    """Run the command; SIGTERM or SIGINT to the launcher goes to the command, and the launcher
    waits for it, so the simulators are stopped after it (no orphans on `systemctl stop`/Ctrl-C)."""
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.launch", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("out"), help="where simulators write (default out/)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... to run against them")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give a command after --")
    out = args.out.resolve()  # simulators and daemons get absolute paths whatever the caller's cwd
    out.mkdir(parents=True, exist_ok=True)
    launched: list[Launched] = []
    env = dict(os.environ)
    env.setdefault("KIOSK_DATA_DIR", str(out / "sim-data"))
    try:
        for starter in STARTERS:
            item = starter(out)
            launched.append(item)
            env.update(item.env)
            print(f"launch: {item.name} simulator running", file=sys.stderr)
        launched.append(start_sync_daemon(out, env))
        print("launch: sync daemon running", file=sys.stderr)
        return _run_command(command, env)
    except LaunchError as exc:
        # nothing runs on a half-started set: the command would only show greyed-out tiles
        print(f"launch: {exc}; not running {command[0]}", file=sys.stderr)
        return EXIT_SIMULATOR_FAILED
    finally:
        for item in reversed(launched):
            item.proc.send_signal(signal.SIGTERM)
        for item in launched:
            try:
                item.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                item.proc.kill()


if __name__ == "__main__":
    raise SystemExit(main())
