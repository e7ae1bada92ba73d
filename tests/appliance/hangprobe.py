"""A stand-in UI for the watchdog test, run inside the booted rootfs by the hardened kiosk unit.

Like `kiosk run`, it asks the sync daemon for its status over the UNIX socket and pings
the watchdog from its main loop only (the same kiosk.runtime.sdnotify.Notifier) while a worker
thread does its own work; after HANG_AFTER_S the main loop blocks forever and the worker goes
on. systemd must kill it (SIGABRT: faulthandler prints every thread's stack to the journal)
and start it again.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from kiosk.runtime.sdnotify import Notifier
from kiosk.sync.ipc import SyncClient

HANG_AFTER_S = float(os.environ.get("HANGPROBE_AFTER_S", "3"))


def worker() -> None:
    n = 0
    while True:
        n += 1
        print(f"event=probe_worker_tick n={n}", flush=True)
        time.sleep(0.5)


def hang_forever() -> None:
    while True:  # the main loop is stuck here; the worker thread is not
        time.sleep(3600)


def main() -> int:
    notifier = Notifier()
    print(f"event=probe_start pid={os.getpid()} watchdog_interval={notifier.interval}", flush=True)
    # The UI's sandbox (no IP, AF_UNIX only, read-only /run) must still reach the sync socket.
    st = SyncClient(os.environ.get("KIOSK_SYNC_SOCKET_PATH", "/run/kiosk/sync.sock")).status()
    print(f"event=probe_sync daemon_running={st.daemon_running} online={st.online}", flush=True)
    threading.Thread(target=worker, name="probe-worker", daemon=True).start()
    notifier.ready(status="probe running")
    start = time.monotonic()
    while True:
        now = time.monotonic()
        if now - start > HANG_AFTER_S:
            print("event=probe_hang", flush=True)
            hang_forever()
        notifier.tick(now)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
