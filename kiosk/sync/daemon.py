"""The sync daemon (`kiosk sync run`): drains the outbox, sends heartbeats, answers UI queries.

It is the kiosk's only door to the network and the only holder of the mTLS key. A crash at any
point is safe: rows it had in flight go back to pending at the next start, and the bureau answers
a resent idempotency key with its first answer, so nothing is lost and nothing counted twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.runtime.sdnotify import Notifier
from kiosk.sync import clock
from kiosk.sync.backoff import Backoff
from kiosk.sync.client import (
    MAX_BATCH,
    MAX_REQUEST_BYTES,
    BureauClient,
    BureauError,
    BureauGarbage,
    BureauRejected,
    BureauUnreachable,
    Outcome,
)
from kiosk.sync.heartbeat_body import Reported
from kiosk.sync.ipc import IpcServer, SyncStatus, group_id
from kiosk.sync.outbox import Item, NoSealer, Outbox
from kiosk.sync.reference_data import KIOSK_CONFIG, OUTLETS, ReferenceData, RefreshResult
from kiosk.sync.settings import SyncSettings
from kiosk.sync.storage import StorageError, StorageFull

log = logging.getLogger(__name__)

# A batch-level refusal with these statuses says "this kiosk may not send", not "these items are
# bad": hold the queue and raise an alert instead of dead-lettering every submission. A 404 to
# the whole request is the bureau not knowing this kiosk (or a wrong bureau URL): the same.
_NOT_AUTHORISED = (401, 403, 404, 407)


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
        self._backoff = Backoff(settings.backoff_base_s, settings.backoff_max_s)
        self._batch = max(1, min(settings.batch_size, MAX_BATCH))
        self._failures = 0
        self._hold_until = 0.0
        self._next_heartbeat = 0.0
        self._online: bool | None = None
        self._last_error = ""
        self._status = SyncStatus(online=None)
        self._status_at = float("-inf")
        self.reported = Reported()  # device health and usage from the UI, for the heartbeat
        self.reference = ReferenceData(settings.data_dir, settings.kiosk_id)
        self._next_reference = 0.0
        self._reload = reload  # re-reads the config layers after the bureau pushed settings
        self._started = time.monotonic()
        self.sent = 0

    def __repr__(self) -> str:
        return f"<SyncDaemon kiosk={self.settings.kiosk_id} online={self._online} sent={self.sent}>"

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
                         self.settings.kiosk_id, self.settings.bureau_url, self._batch,
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
        sent = self.drain_once() if now >= self._hold_until else 0
        self._refresh_status()
        if sent == 0:
            self._wait()

    def _wait(self) -> None:
        now = time.monotonic()
        waits = [self.settings.idle_poll_s, self._next_heartbeat - now, self._next_reference - now]
        if self._hold_until > now:
            waits.append(self._hold_until - now)
        else:
            due = self.outbox.next_due_in()
            if due is not None:
                waits.append(due)
        # Wake at least every second for the watchdog.
        self._wake.wait(max(0.005, min(*waits, 1.0)))
        self._wake.clear()

    # --- draining --------------------------------------------------------------------------
    def drain_once(self) -> int:
        """Claim and send one batch; returns how many rows were settled (acked or dead)."""
        try:
            items = self.outbox.claim_batch(self._batch, MAX_REQUEST_BYTES)
        except StorageFull:
            # A full disk: sending is what frees it, so never exit over it (systemd would
            # restart us for ever while nothing moves). One row claims with the least WAL.
            try:
                items = self.outbox.claim_batch(1)
            except StorageFull as exc:
                log.error("event=sync_disk_full reason=%r", str(exc)[:120])
                self._hold(self._backoff.delay(1))
                return 0
        if not items:
            return 0
        try:
            outcomes = self._client.submit(items)
        except BureauRejected as exc:
            return self._batch_rejected(items, exc)
        except (BureauUnreachable, BureauGarbage) as exc:
            after = exc.retry_after if isinstance(exc, BureauUnreachable) else None
            self.outbox.fail([i.id for i in items], exc.reason, retry_after=after)
            self._went_offline(exc, after)
            return 0
        self._came_online()
        return self._settle(outcomes)

    def _settle(self, outcomes: list[Outcome]) -> int:
        acks = [o.item_id for o in outcomes if o.action == "ack"]
        retries = [o for o in outcomes if o.action == "retry"]
        try:
            self.outbox.ack(acks)  # first: deleting acknowledged rows is what frees the disk
        except StorageFull as exc:
            # The bureau has them; they stay in flight and are resent (same keys) next start.
            log.error("event=sync_ack_disk_full rows=%d reason=%r", len(acks), str(exc)[:120])
            self._hold(self._backoff.delay(1))
            return 0
        dead: dict[str, list[int]] = {}
        for o in outcomes:
            if o.action == "dead":
                dead.setdefault(o.reason, []).append(o.item_id)
        for reason, ids in dead.items():
            self.outbox.dead_letter(ids, reason)
        for o in retries:
            self.outbox.fail([o.item_id], o.reason)
        self.sent += len(acks)
        log.info("event=batch_sent acked=%d dead=%d retry=%d", len(acks),
                 sum(map(len, dead.values())), len(retries))
        return len(acks) + sum(map(len, dead.values()))

    def _batch_rejected(self, items: list[Item], exc: BureauRejected) -> int:
        self._came_online()
        ids = [i.id for i in items]
        if exc.status in _NOT_AUTHORISED:
            self.outbox.fail(ids, exc.reason, retry_after=self.settings.backoff_max_s)
            self.outbox.record_alert("bureau_refused_kiosk", exc.reason[:200])
            self._hold(self.settings.backoff_max_s)
            log.error("event=bureau_refused_kiosk status=%s code=%s", exc.status, exc.code)
            return 0
        if len(items) > 1:
            # Some item spoiled the whole batch (or it was too large): send one by one to find
            # which, and keep batches small for a while.
            if exc.status == 413:
                self._batch = max(1, self._batch // 2)
            settled = 0
            for item in items:
                self._notifier.tick(time.monotonic())  # up to one request timeout per item
                settled += self._send_single(item)
            return settled
        self.outbox.dead_letter(ids, exc.reason)
        return 1

    def _send_single(self, item: Item) -> int:
        try:
            return self._settle(self._client.submit([item]))
        except BureauRejected as exc:
            if exc.status in _NOT_AUTHORISED:
                self.outbox.fail([item.id], exc.reason, retry_after=self.settings.backoff_max_s)
                return 0
            self.outbox.dead_letter([item.id], exc.reason)
            return 1
        except (BureauUnreachable, BureauGarbage) as exc:
            self.outbox.fail([item.id], exc.reason,
                             retry_after=getattr(exc, "retry_after", None))
            return 0

    # --- online state ----------------------------------------------------------------------
    def _came_online(self) -> None:
        if self._online is not True:
            log.info("event=bureau_online")
        self._online, self._failures, self._last_error = True, 0, ""

    def _went_offline(self, exc: BureauError, retry_after: float | None) -> None:
        self._failures += 1
        if self._online is not False or self._failures in (1, 10, 100):
            log.warning("event=bureau_unreachable failures=%d reason=%r", self._failures,
                        exc.reason[:120])
        self._online, self._last_error = False, exc.reason[:200]
        self._hold(self._backoff.delay(self._failures, retry_after))

    def _hold(self, seconds: float) -> None:
        self._hold_until = time.monotonic() + seconds

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
        st = self.outbox.status()
        devices, usage = self.reported.take()
        sent = clock.wall()
        trusted = self.clock_check.trusted()
        body = {
            "kiosk_id": self.settings.kiosk_id,
            "sent_at": _rfc3339(sent),
            "clock_synchronised": trusted,
            "boot_counter": self.outbox.boot,
            "uptime_s": _uptime_s(),
            "software_version": __version__,
            "devices": devices,
            "queue": {"pending": st.pending, "in_flight": st.in_flight, "dead": st.dead,
                      "oldest_pending_age_s": None if st.oldest_pending_age_s is None
                      else int(st.oldest_pending_age_s)},
            "usage": usage,
            "disk_free_bytes": int(_free_bytes(self.settings.data_dir)),
        }
        versions = self.reference.versions()
        if versions[KIOSK_CONFIG]:
            body["config_version"] = versions[KIOSK_CONFIG][:80]
        try:
            ack = self._client.heartbeat(body)
        except BureauRejected as exc:
            self._came_online()
            log.warning("event=heartbeat_refused status=%s code=%s", exc.status, exc.code)
            return
        except (BureauUnreachable, BureauGarbage) as exc:
            self._went_offline(exc, getattr(exc, "retry_after", None))
            # A failed heartbeat is retried at the next backoff, not a whole interval later.
            self._next_heartbeat = min(self._next_heartbeat, self._hold_until)
            return
        self._came_online()
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
    def dispatch(self, req: dict[str, Any]) -> Any:
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
                    self._online = False
                    raise
            self._online = True
            return result
        raise ValueError(f"unknown op {op!r}")

    def _refresh_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_at < 0.5:
            return
        st = self.outbox.status()
        self._status = SyncStatus(self._online, st.pending, st.in_flight, st.dead,
                                  st.oldest_pending_age_s, st.last_success_at, self._last_error,
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


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _uptime_s() -> int:
    try:
        with open("/proc/uptime") as fh:
            return int(float(fh.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return int(time.monotonic())


def _free_bytes(path: Path) -> int:
    try:
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize
    except OSError:
        return 0
