"""The sync daemon (`kiosk sync run`): drains the outbox, sends heartbeats, answers UI queries.

It is the kiosk's only door to the network and the only holder of the mTLS key. A crash at any
point is safe: rows it had in flight go back to pending at the next start, and the bureau answers
a resent idempotency key with its first answer, so nothing is lost and nothing counted twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kiosk.runtime.sdnotify import Notifier
from kiosk.sync import clock, heartbeat_body
from kiosk.sync.backoff import Backoff
from kiosk.sync.client import BureauClient, BureauGarbage, BureauRejected, BureauUnreachable
from kiosk.sync.drain import Drainer
from kiosk.sync.heartbeat_body import Reported
from kiosk.sync.ipc import IpcServer, SyncStatus, group_id
from kiosk.sync.ipc.protocol import Message
from kiosk.sync.link import Link
from kiosk.sync.outbox import NoSealer, Outbox
from kiosk.sync.reference_data import KIOSK_CONFIG, OUTLETS, ReferenceData, RefreshResult
from kiosk.sync.settings import SyncSettings
from kiosk.sync.storage import StorageError

__all__ = ["SyncDaemon", "install_signal_handlers"]

log = logging.getLogger(__name__)


class SyncDaemon:
    def __init__(self, settings: SyncSettings, outbox: Outbox,
                 client_factory: Callable[[], BureauClient],
                 notifier: Notifier | None = None,
                 reload: Callable[[], SyncSettings] | None = None,
                 clock_check: clock.ClockCheck | None = None) -> None:
        self.settings = settings
        self.clock_check = clock_check or clock.ClockCheck()  # chrony AND the bureau agree
        self.outbox = outbox
        self._client = client_factory()
        self._query_client = client_factory()  # queries never wait behind a slow batch
        self._query_lock = threading.Lock()
        self._notifier = notifier or Notifier()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.link = Link(Backoff(settings.backoff_base_s, settings.backoff_max_s))
        self.drainer = Drainer(outbox, self._client, self.link, batch_size=settings.batch_size,
                               hold_s=settings.backoff_max_s,
                               tick=lambda: self._notifier.tick(time.monotonic()))
        self._next_heartbeat = 0.0
        self._status = SyncStatus(online=None)
        self._status_at = float("-inf")
        self.reported = Reported()  # device health and usage from the UI, for the heartbeat
        self.reference = ReferenceData(settings.data_dir, settings.kiosk_id)
        self._next_reference = 0.0
        self._reload = reload  # re-reads the config layers after the bureau pushed settings
        self._started = time.monotonic()

    def __repr__(self) -> str:
        return (f"<SyncDaemon kiosk={self.settings.kiosk_id} online={self.link.online} "
                f"sent={self.sent}>")

    @property
    def sent(self) -> int:
        """Submissions the bureau acknowledged since start."""
        return self.drainer.sent

    @classmethod
    def from_settings(cls, settings: SyncSettings,
                      reload: Callable[[], SyncSettings] | None = None) -> SyncDaemon:
        outbox = Outbox(settings.data_dir, settings.kiosk_id, NoSealer(),
                        min_free_mb=settings.min_free_mb, max_db_mb=settings.max_queue_mb,
                        recover_in_flight=True,
                        backoff=Backoff(settings.backoff_base_s, settings.backoff_max_s))

        def factory() -> BureauClient:
            return BureauClient(settings.bureau_url, settings.kiosk_id, settings.ca_file,
                                settings.cert_file, settings.key_file, settings.request_timeout_s)
        return cls(settings, outbox, factory, reload=reload)

    # --- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> int:
        """Serve until stop() or SIGTERM; returns the process exit code."""
        with _single_instance(self.settings.data_dir / "sync.lock"):
            server = IpcServer(self.settings.socket_path, self.dispatch,
                               allowed_gids={group_id(self.settings.ipc_group)}).start()
            try:
                self._refresh_status(force=True)
                self._notifier.ready(self._status_line())
                log.info("event=sync_started kiosk=%s bureau=%s batch=%d pending=%d",
                         self.settings.kiosk_id, self.settings.bureau_url, self.drainer.batch,
                         self._status.pending)
                while not self._stop.is_set():
                    self.step()
            except (StorageError, sqlite3.DatabaseError) as exc:
                # A file that went bad under us: exit, and the restart quarantines it.
                log.error("event=sync_storage_failed reason=%r", str(exc))
                return 1
            finally:
                self._notifier.stopping()
                server.close()
                self._client.close()
                self._query_client.close()
                self.outbox.close()
        log.info("event=sync_stopped sent=%d", self.sent)
        return 0

    def step(self) -> None:
        """One turn of the loop: heartbeat if due, send one batch, else wait a little."""
        now = time.monotonic()
        self._notifier.tick(now, self._status_line())
        if now >= self._next_heartbeat:
            self.heartbeat()
        if now >= self._next_reference:
            self.refresh_reference()
        sent = 0 if self.link.held(now) else self.drain_once()
        self._refresh_status()
        if sent == 0:
            self._wait()

    def _wait(self) -> None:
        now = time.monotonic()
        waits = [self.settings.idle_poll_s, self._next_heartbeat - now, self._next_reference - now]
        if self.link.held(now):
            waits.append(self.link.hold_until - now)
        else:
            due = self.outbox.next_due_in()
            if due is not None:
                waits.append(due)
        # Wake at least every second for the watchdog.
        self._wake.wait(max(0.005, min(*waits, 1.0)))
        self._wake.clear()

    def drain_once(self) -> int:
        """Claim and send one batch; returns how many rows were settled (acked or dead)."""
        return self.drainer.drain_once()

    # --- reference data --------------------------------------------------------------------
    def refresh_reference(self, from_ui: bool = False) -> RefreshResult:
        """Fetch outlets and this kiosk's settings if changed; at start, every sync.reference_s,
        when a heartbeat ack names newer versions, and when a technician asks (from_ui)."""
        try:
            if from_ui:  # an IPC thread: the loop's client is not ours to use
                with self._query_lock:
                    result = self.reference.refresh(self._query_client)
            else:
                result = self.reference.refresh(self._client)
        except Exception as exc:  # reference data must never stop the queue
            log.exception("event=reference_refresh_failed error=%s", type(exc).__name__)
            result = RefreshResult({n: "failed" for n in (OUTLETS, KIOSK_CONFIG)})
        # Unreachable: try again after the longest backoff, not a whole interval later.
        wait = self.settings.reference_s if result.reached else min(
            self.settings.reference_s, self.settings.backoff_max_s)
        self._next_reference = time.monotonic() + wait
        if result.settings_changed:
            self._adopt_pushed_settings()
        return result

    def _adopt_pushed_settings(self) -> None:
        """The daemon's own timings follow the new layers now; others need a restart."""
        if self._reload is None:
            return
        try:
            new = self._reload()
        except Exception as exc:
            log.warning("event=settings_reload_failed error=%r", str(exc)[:200])
            return
        old = self.settings
        self.settings = old.with_(heartbeat_s=new.heartbeat_s, reference_s=new.reference_s)
        if new.heartbeat_s != old.heartbeat_s:
            self._next_heartbeat = min(self._next_heartbeat, time.monotonic() + new.heartbeat_s)
        log.info("event=settings_reloaded heartbeat_s=%g reference_s=%g", new.heartbeat_s,
                 new.reference_s)

    # --- heartbeat -------------------------------------------------------------------------
    def heartbeat(self) -> None:
        self._next_heartbeat = time.monotonic() + self.settings.heartbeat_s
        devices, usage = self.reported.take()
        sent = clock.wall()
        trusted = self.clock_check.trusted()
        versions = self.reference.versions()
        body = heartbeat_body.build(
            self.settings.kiosk_id, sent, trusted, self.outbox.boot, self.outbox.status(),
            devices, usage, self.settings.data_dir, versions[KIOSK_CONFIG])
        try:
            ack = self._client.heartbeat(body)
        except BureauRejected as exc:
            self.link.came_online()
            log.warning("event=heartbeat_refused status=%s code=%s", exc.status, exc.code)
            return
        except (BureauUnreachable, BureauGarbage) as exc:
            self.link.went_offline(exc, exc.retry_after if isinstance(exc, BureauUnreachable)
                                   else None)
            # A failed heartbeat is retried at the next backoff, not a whole interval later.
            self._next_heartbeat = min(self._next_heartbeat, self.link.hold_until)
            return
        self.link.came_online()
        self.clock_check.observe(str(ack.get("server_time", "")), sent, clock.wall())
        if self.clock_check.trusted() != trusted:
            self._next_heartbeat = 0.0  # tell the bureau the new verdict now, not in an interval
        self.outbox.mark_success()
        # Usage counters are "since the last heartbeat acknowledged".
        self.reported.acknowledged(usage)
        # The ack names the bureau's current versions: fetch at once what we lack.
        if (str(ack.get("config_version", "")) not in ("", versions[KIOSK_CONFIG])
                or str(ack.get("outlets_version", "")) not in ("", versions[OUTLETS])):
            self._next_reference = 0.0

    # --- UI requests -----------------------------------------------------------------------
    def dispatch(self, req: Message) -> object:
        op = req.get("op")
        if op == "ping":
            return {"pong": True}
        if op == "status":
            return self._status.to_dict()
        if op == "kick":
            self._wake.set()
            return {}
        if op == "report":
            # Device health and usage counts from the UI, carried by the next heartbeat. Entries
            # off the Heartbeat schema are dropped here: one would make the bureau refuse it all.
            first, taken = self.reported.add(req.get("devices"), req.get("usage"))
            if first:
                # The heartbeat sent at start knew no devices yet: tell the bureau now.
                self._next_heartbeat = 0.0
                self._wake.set()
            return taken
        if op == "refresh_reference":
            return self.refresh_reference(from_ui=True).to_dict()
        if op == "query":
            kind, body = str(req.get("kind", "")), req.get("body")
            if not isinstance(body, dict):
                raise ValueError("query body must be an object")
            with self._query_lock:
                try:
                    result = self._query_client.query(kind, body)
                except (BureauUnreachable, BureauGarbage):
                    self.link.online = False
                    raise
            self.link.online = True
            return result
        raise ValueError(f"unknown op {op!r}")

    def _refresh_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_at < 0.5:
            return
        st = self.outbox.status()
        self._status = SyncStatus(self.link.online, st.pending, st.in_flight, st.dead,
                                  st.oldest_pending_age_s, st.last_success_at, self.link.last_error,
                                  self.clock_check.trusted())
        self._status_at = now

    def _status_line(self) -> str:
        st = self._status
        online = {True: "online", False: "offline", None: "starting"}[st.online]
        return f"{online} pending={st.pending} dead={st.dead} sent={self.sent}"


@contextlib.contextmanager
def _single_instance(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another sync daemon holds {lock_path}") from None
        yield


def install_signal_handlers(daemon: SyncDaemon) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("event=sync_signal signal=%s", signal.Signals(signum).name)
        daemon.stop()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
