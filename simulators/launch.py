"""Starts every available simulator as its own process, then runs a command against them.

`make run` uses it: `python -m simulators.launch -- python -m kiosk run --sim`. The command gets
KIOSK_* variables pointing at the simulators (ports, certificates); the simulators stop with it.
"""

from __future__ import annotations

import argparse
import importlib.util
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


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def start_printer(out: Path) -> Launched | None:
    if not _available("simulators.printer"):
        return None
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulators.printer", "--port", str(port),
                             "--out", str(out / "receipts")])
    if not wait_for_port(port, proc=proc):
        proc.kill()
        print("launch: printer simulator did not start", file=sys.stderr)
        return None
    return Launched("printer", proc, {"KIOSK_PRINTER": f"tcp:127.0.0.1:{port}"})


STARTERS = (start_printer,)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.launch", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("out"), help="where simulators write (default out/)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS... to run against them")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give a command after --")
    args.out.mkdir(parents=True, exist_ok=True)
    launched: list[Launched] = []
    env = dict(os.environ)
    try:
        for starter in STARTERS:
            item = starter(args.out)
            if item is not None:
                launched.append(item)
                env.update(item.env)
                print(f"launch: {item.name} simulator running ({' '.join(f'{k}={v}' for k, v in item.env.items())})",
                      file=sys.stderr)
        return subprocess.call(command, env=env)
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
