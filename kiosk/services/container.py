"""The citizen services one kiosk offers, built once by the composition root: card, queries,
submissions (the sealed outbox), receipts. Screens reach devices and the bureau only through it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.hw.health import DeviceHealth

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.hw.registry import Devices
    from kiosk.services.heartbeat import UsageCounters
    from kiosk.services.printing import PrintService, StaffAlert
    from kiosk.services.queries import QueryService
    from kiosk.sync.ipc import SyncClient
    from kiosk.sync.outbox import Outbox

log = logging.getLogger(__name__)


class OutboxLink:
    """Whether a new submission can be stored: asked before the citizen gives any data."""

    name = "outbox"

    def __init__(self, outbox: Outbox | None, problem: str = "", detail: str = "") -> None:
        self.outbox, self.problem, self.detail = outbox, problem, detail

    def health(self) -> DeviceHealth:
        if self.outbox is None:
            return DeviceHealth.offline(self.problem or "health.outbox.failed", self.detail)
        capacity = self.outbox.can_accept()
        if not capacity.ok:
            return DeviceHealth.offline("health.outbox.full", f"{capacity.reason} free_mb={capacity.free_mb:.0f}")
        return DeviceHealth.ok(f"free_mb={capacity.free_mb:.0f}")

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()

    def __repr__(self) -> str:
        return f"<OutboxLink {getattr(self.outbox, 'path', None)} problem={self.problem or '-'}>"


def open_outbox(cfg: Config) -> OutboxLink:
    try:
        from kiosk.sync.outbox import Outbox
        from kiosk.sync.seal import BureauSealer

        sealer = BureauSealer.from_pem_file(cfg["sync.bureau_public_key_file"])
        outbox = Outbox(cfg.data_dir, cfg["kiosk.id"], sealer, min_free_mb=cfg["sync.min_free_mb"],
                        max_db_mb=cfg["sync.max_queue_mb"], recover_in_flight=False)
        return OutboxLink(outbox)
    except FileNotFoundError as exc:
        log.error("event=outbox_unavailable reason=no_bureau_key detail=%s", exc)
        return OutboxLink(None, "health.outbox.no_key", str(exc))
    except Exception as exc:  # a broken queue must not stop queries and card services
        log.error("event=outbox_unavailable error=%r", exc)
        return OutboxLink(None, "health.outbox.failed", repr(exc))


@dataclass
class Submitted:
    reference: str
    queued_offline: bool  # the bureau has not acknowledged it yet (it is safe in the outbox)


@dataclass
class CitizenServices:
    """Everything is given at construction (build_services). `alerts` keeps the staff alerts
    raised since start-up, for the heartbeat."""

    cfg: Config
    devices: Devices
    sync: SyncClient
    queries: QueryService
    outbox: OutboxLink
    printing: PrintService
    alerts: list[StaffAlert] = field(default_factory=list)
    usage: UsageCounters | None = None
    current_service: str = ""

    def submit(self, kind: str, citizen: dict[str, Any], data: dict[str, Any],
               pictures: list[dict[str, str]] | None = None, wait_ack_s: float = 4.0) -> Submitted:
        """Seal and queue one submission (one transaction), wake the daemon, and wait a moment for
        the bureau's acknowledgement so the citizen is told the truth: sent, or safely queued."""
        outbox = self.outbox.outbox
        if outbox is None:
            from kiosk.sync.storage import StorageError

            raise StorageError(self.outbox.problem or "health.outbox.failed")
        payload: dict[str, Any] = {"citizen": citizen, "data": data, "pictures": pictures or []}
        receipt = outbox.enqueue(kind, payload)
        if self.sync.kick():
            deadline = time.monotonic() + wait_ack_s
            while time.monotonic() < deadline:
                if not outbox.holds(receipt.reference):
                    return Submitted(receipt.reference, queued_offline=False)
                time.sleep(0.1)
        log.info("event=submission_queued kind=%s reference=%s", kind, receipt.reference)
        return Submitted(receipt.reference, queued_offline=True)

    def count(self, outcome: str, service: str = "") -> None:
        """Usage counters per service for the heartbeat (started / completed / failed)."""
        service = service or self.current_service
        if self.usage is None or not service:
            return
        try:
            getattr(self.usage, outcome)(service)
        except Exception as exc:
            log.warning("event=usage_count_failed service=%s error=%r", service, exc)
        if outcome != "started":
            self.current_service = ""

    def staff_alert(self, alert: StaffAlert) -> None:
        _keep_alert(self.alerts, alert)


def _keep_alert(alerts: list[StaffAlert], alert: StaffAlert) -> None:
    alerts.append(alert)
    log.warning("event=staff_alert device=%s reason=%s", alert.device, alert.reason)


def build_services(cfg: Config, devices: Devices,
                   on_alert: Callable[[StaffAlert], None] | None = None) -> CitizenServices:
    """The services of one kiosk over its devices. Staff alerts go to on_alert, or are kept in
    the services' `alerts` when there is none."""
    from kiosk.services.printing import PrintService
    from kiosk.services.queries import QueryService
    from kiosk.sync.ipc import SyncClient

    sync = SyncClient(cfg["sync.socket_path"], cfg["sync.query_timeout_s"])
    alerts: list[StaffAlert] = []

    def keep(alert: StaffAlert) -> None:
        _keep_alert(alerts, alert)

    return CitizenServices(
        cfg, devices, sync, QueryService(sync.query, cfg["sync.query_timeout_s"]), open_outbox(cfg),
        PrintService(devices.printer, cfg, alerts=on_alert or keep), alerts=alerts,
        usage=_usage_counters(cfg))


def _usage_counters(cfg: Config) -> UsageCounters | None:
    from kiosk.services.heartbeat import UsageCounters

    try:
        return UsageCounters(cfg.data_dir)
    except OSError as exc:  # counting is a nicety: never a reason to stop serving
        log.warning("event=usage_counters_unavailable error=%r", exc)
        return None


class QueueControl:
    """The maintenance menu's view of the sync queue: counts from the shared database, actions
    through the database (retry) or the daemon (sync now). Dead letters are exported sealed."""

    def __init__(self, outbox: OutboxLink, sync: SyncClient) -> None:
        self._link, self._sync = outbox, sync

    def status(self) -> dict[str, Any]:
        import time as _time

        ob = self._link.outbox
        if ob is None:
            return {"error": self._link.problem, "detail": self._link.detail}
        st = ob.status()
        live = self._sync.status(timeout=0.5)
        last = (_time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(st.last_success_at))
                if st.last_success_at else "never")
        return {"pending": st.pending, "in_flight": st.in_flight, "dead": st.dead,
                "oldest_pending_age_s": "-" if st.oldest_pending_age_s is None else f"{st.oldest_pending_age_s:.0f}",
                "last_success": last,
                "online": {True: "online", False: "offline", None: "starting"}[live.online] if live.daemon_running
                else "sync daemon not running",
                "dead_letters": [{"kind": d["kind"], "reference": d["reference"], "reason": d["last_error"]}
                                 for d in ob.dead_letters()]}

    def sync_now(self) -> str:
        return "kicked" if self._sync.kick() else "sync daemon not running"

    def retry_dead(self) -> str:
        n = self._link.outbox.retry_dead() if self._link.outbox is not None else 0
        self._sync.kick()
        return f"{n} back in the queue"

    def export_dead(self, target: str | Path) -> str:
        """Write the dead letters (metadata and the still-sealed envelope) as JSON lines for the bureau."""
        import base64
        import json

        ob = self._link.outbox
        if ob is None:
            return f"nothing exported: {self._link.problem}"
        rows = ob._conn().execute("SELECT reference, idempotency_key, kind, created_at, last_error, envelope "
                                  "FROM outbox WHERE state = 'dead' ORDER BY id").fetchall()
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for ref, key, kind, created, err, env in rows:
                fh.write(json.dumps({"reference": ref, "idempotency_key": key, "kind": kind, "created_at": created,
                                     "reason": err, "envelope": base64.b64encode(env).decode()}) + "\n")
        return f"{len(rows)} exported to {path}"
