"""The maintenance menu's pages as data: rows of facts and the actions a technician can take.
Device pages ask the device itself for details when it offers `diagnostics()`; nothing here
reads citizen data (a card read is masked before it is shown)."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.domain.masking import mask_card, mask_id, mask_name
from kiosk.hw.health import DeviceHealth
from kiosk.runtime.logs import RING
from kiosk.services.audit import AuditLog
from kiosk.services.pages import Action, Page, Row, plain, problem

log = logging.getLogger(__name__)


PAGES = ("reader", "camera", "printer", "gpio", "network", "system", "queue", "logs", "audit", "stick",
         "settings", "power")
LOG_LEVELS = ("debug", "info", "warning", "error")
# The stick procedures (docs/runbook-provisioning.md), named on the system page for a root shell.
SERVICE_COMMANDS = (("logs", "export"), ("queue", "export"), ("queue", "import"), ("update", "install"),
                    ("config", "set"))


def health_row(h: DeviceHealth | None) -> Row:
    if h is None:
        return Row("diag.health", "unknown", "warn")
    state = {"ok": "ok", "degraded": "warn", "offline": "bad"}[h.state.value]
    # the state, then why, then the device's own detail; an ok state carries no "reason"
    reason = h.reason if h.state.value != "ok" else ""
    return Row("diag.health", plain(" · ".join(p for p in (h.state.value, reason, h.detail) if p)), state)


@dataclass
class Diagnostics:
    devices: Callable[[], dict[str, Any]]
    health: Callable[[], dict[str, DeviceHealth]]
    cfg: Callable[[], Any]
    audit: AuditLog
    sync: Any = None  # an object with status() -> dict, sync_now(), retry_dead(), export_dead(path)
    power: Any = None  # an object with restart_app(), reboot(), shutdown()
    printer_test: Callable[[], str] | None = None  # prints a test receipt, returns an outcome text
    printer_failures: Callable[[], Any] | None = None  # recent receipts that did not print
    stick: Any = None  # kiosk.services.stick.Stick: the USB stick page and its tasks
    log_level: str = "info"
    results: dict[str, str] = field(default_factory=dict)  # last action result per page
    previews: dict[str, Any] = field(default_factory=dict)  # camera snapshot with the detection drawn
    _engine: Any = None

    def page(self, page_id: str) -> Page:
        build = getattr(self, f"_page_{page_id}")
        return build()

    # ---------------------------------------------------------------- devices
    def _device_rows(self, name: str) -> list[Row]:
        dev = self.devices().get(name)
        rows = [health_row(self.health().get(name)), Row("diag.adapter", self._adapter(name, dev))]
        details = getattr(dev, "diagnostics", None)
        if callable(details):
            try:
                for key, value in details().items():
                    rows.append(Row(str(key), str(value), literal=True))
            except Exception as exc:
                rows.append(Row("diag.error", problem(exc), "bad"))
        if name in self.results:
            rows.append(Row("diag.last_result", self.results[name]))
        return rows

    def _adapter(self, name: str, dev: Any) -> str:
        """Which adapter serves the device, as configured (devices.reader = pcsc, sim, tcp:..)."""
        if dev is None:
            return "none"
        try:
            spec = str(self.cfg()[f"devices.{name}"])
        except (KeyError, TypeError):
            spec = ""
        kind = type(dev).__name__
        return f"{spec} ({kind})" if spec else kind

    def _page_reader(self) -> Page:
        dev = self.devices().get("reader")
        rows = self._device_rows("reader")
        card_present = getattr(dev, "card_present", None)
        if callable(card_present):
            try:
                rows.insert(1, Row("diag.reader.card", "present" if card_present() else "none"))
            except Exception as exc:
                rows.insert(1, Row("diag.reader.card", problem(exc), "bad"))
        return Page("reader", "diag.page.reader", tuple(rows),
                    (Action("read_card", "diag.action.read_card", enabled=hasattr(dev, "wait_for_card")),))

    def _page_camera(self) -> Page:
        dev = self.devices().get("camera")
        return Page("camera", "diag.page.camera", tuple(self._device_rows("camera")),
                    (Action("camera_test", "diag.extra.camera_test", enabled=hasattr(dev, "frames")),), (),
                    self.previews.get("camera"))

    def _page_printer(self) -> Page:

        failures = tuple(self.printer_failures()) if self.printer_failures else ()
        lines = tuple(f"{f.at:%m-%d %H:%M:%S}  {f.kind}  {f.reason}  "
                      f"when={f.when}  {f.detail}" for f in reversed(failures))
        return Page("printer", "diag.page.printer", tuple(self._device_rows("printer")),
                    (Action("print_test", "diag.action.print_test", enabled=self.printer_test is not None),),
                    lines)

    def _page_gpio(self) -> Page:
        gpio = self.devices().get("gpio")
        rows = [health_row(self.health().get("gpio"))]
        actions = []
        if gpio is not None and hasattr(gpio, "status_led"):
            for part in ("status_led", "help_beacon", "buzzer"):
                on = bool(getattr(gpio, part).value)
                rows.append(Row(f"diag.gpio.{part}", f"{'on' if on else 'off'} (GPIO{gpio.pins[part]})",
                                "ok" if on else ""))
                actions.append(Action(f"toggle_{part}", f"diag.action.toggle_{part}"))
            rows.append(Row("diag.gpio.service_door", f"{'open' if gpio.door_open else 'closed'} "
                            f"(GPIO{gpio.pins['service_door']})", "warn" if gpio.door_open else "ok"))
            rows.append(Row("diag.gpio.presence_sensor", f"{'someone' if gpio.someone_present else 'nobody'} "
                            f"(GPIO{gpio.pins['presence_sensor']})"))
        return Page("gpio", "diag.page.gpio", tuple(rows), tuple(actions))

    # ---------------------------------------------------------------- network and system
    def _page_network(self) -> Page:
        cfg = self.cfg()
        rows = [health_row(self.health().get("bureau")), Row("diag.net.bureau_url", cfg["sync.bureau_url"])]
        for key in ("sync.cert_file", "sync.ca_file"):
            rows.append(cert_row(Path(cfg[key]), f"diag.net.{key.split('.')[1]}"))
        rows.append(Row("diag.net.clock", clock_state()))
        status = self._sync_status()
        # what the queue knows: the bureau's last acknowledgement, and the daemon's own word on the line
        if "last_success" in status:
            rows.append(Row("diag.queue.last_success", str(status["last_success"])))
        if "online" in status:
            rows.append(Row("diag.queue.online", str(status["online"]), "" if status["online"] == "online" else "warn"))
        return Page("network", "diag.page.network", tuple(rows))

    def _page_system(self) -> Page:
        cfg = self.cfg()
        data_dir = Path(cfg["kiosk.data_dir"])
        rows = [Row("diag.sys.version", __version__), Row("diag.sys.kiosk_id", cfg["kiosk.id"]),
                Row("diag.sys.host", f"{socket.gethostname()} {platform.machine()} Python {platform.python_version()}"),
                Row("diag.sys.uptime", uptime())]
        try:
            du = shutil.disk_usage(data_dir if data_dir.exists() else "/")
            free_mb = du.free / 2 ** 20
            rows.append(Row("diag.sys.disk", f"{free_mb:.0f} MB free of {du.total / 2 ** 20:.0f} MB",
                            "bad" if free_mb < cfg["sync.min_free_mb"] else "ok"))
        except OSError as exc:
            rows.append(Row("diag.sys.disk", problem(exc), "bad"))
        rows.append(Row("diag.sys.memory", memory()))
        rows.append(Row("diag.sys.cpu_temp", cpu_temp()))
        # The service procedures need root (mount the stick, read the kiosk's key): named here so a
        # technician finds them (docs/runbook-provisioning.md), run from a root shell.
        rows.append(Row("diag.sys.service", "kiosk " + " · ".join(" ".join(c) for c in SERVICE_COMMANDS)))
        return Page("system", "diag.page.system", tuple(rows))

    # ---------------------------------------------------------------- queue, logs, audit, power
    def _sync_status(self) -> dict:
        if self.sync is None:
            return {}
        try:
            return dict(self.sync.status())
        except Exception as exc:
            return {"error": problem(exc)}

    def _page_queue(self) -> Page:
        status = self._sync_status()
        if not status:
            return Page("queue", "diag.page.queue", (Row("diag.queue.unavailable", "sync daemon not reachable", "bad"),))
        if "error" in status:  # the queue cannot be read: its counts would only be dashes beside it
            why = " · ".join(str(v) for v in (status["error"], status.get("detail", "")) if v)
            return Page("queue", "diag.page.queue", (Row("diag.error", plain(why), "bad"),),
                        (Action("sync_now", "diag.action.sync_now"),))
        rows = [Row(f"diag.queue.{k}", str(status.get(k, "-"))) for k in
                ("pending", "in_flight", "dead", "oldest_pending_age_s", "last_success", "online")]
        if "queue" in self.results:
            rows.append(Row("diag.last_result", self.results["queue"]))
        dead = tuple(f"{d.get('kind', '?')}  {d.get('reference', '?')}  {d.get('reason', '?')}"
                     for d in status.get("dead_letters", []))
        actions = (Action("sync_now", "diag.action.sync_now"),
                   Action("retry_dead", "diag.action.retry_dead", enabled=bool(status.get("dead"))),
                   Action("export_dead", "diag.action.export_dead", enabled=bool(status.get("dead"))))
        return Page("queue", "diag.page.queue", tuple(rows), actions, dead)

    def _page_logs(self) -> Page:
        level = getattr(logging, self.log_level.upper())
        actions = tuple(Action(f"level_{name}", f"diag.action.level_{name}") for name in LOG_LEVELS)
        return Page("logs", "diag.page.logs", (Row("diag.logs.level", self.log_level),), actions,
                    tuple(plain(line) for line in RING.tail(level)))

    def _page_audit(self) -> Page:
        return Page("audit", "diag.page.audit", (), (), tuple(e.line() for e in self.audit.recent(300)))

    def _page_stick(self) -> Page:
        if self.stick is None:
            return Page("stick", "diag.page.stick", (Row("diag.stick.state", "not available", "bad"),))
        return self.stick.page(self.results.get("stick"))

    def _page_settings(self) -> Page:
        return Page("settings", "diag.page.settings")  # drawn from the config schema by the screen

    def _page_power(self) -> Page:
        return Page("power", "diag.page.power", (), (
            Action("restart_app", "diag.action.restart_app", confirm=True),
            Action("reboot", "diag.action.reboot", confirm=True),
            Action("shutdown", "diag.action.shutdown", confirm=True)))

    # ---------------------------------------------------------------- actions
    def act(self, page_id: str, action_id: str) -> None:
        """Run one action (may block briefly: the screen calls it from a worker)."""
        self.audit.append("maintenance_action", page=page_id, action=action_id)
        gpio = self.devices().get("gpio")
        try:
            if action_id.startswith("toggle_"):
                getattr(gpio, action_id[len("toggle_"):]).toggle()
            elif action_id.startswith("level_"):
                self.log_level = action_id[len("level_"):]
            elif action_id == "print_test" and self.printer_test:
                self.results["printer"] = self.printer_test()
            elif action_id == "read_card":
                self.results["reader"] = self._read_card()
            elif action_id == "camera_test":
                self.results["camera"] = self._camera_test()
            elif action_id in ("sync_now", "retry_dead") and self.sync is not None:
                self.results["queue"] = str(getattr(self.sync, action_id)())
            elif action_id == "export_dead" and self.sync is not None:
                target = Path(self.cfg()["kiosk.data_dir"]) / "export" / f"dead-{int(time.time())}.jsonl"
                self.results["queue"] = str(self.sync.export_dead(target))
            elif page_id == "stick" and self.stick is not None:
                self.results.pop("stick", None)
                self.stick.act(action_id)
            elif action_id in ("restart_app", "reboot", "shutdown") and self.power is not None:
                getattr(self.power, action_id)()
        except Exception as exc:
            self.results[page_id] = f"error: {problem(exc)}"
            log.warning("event=maintenance_action_failed page=%s action=%s error=%r", page_id, action_id, exc)


    def _read_card(self) -> str:
        """Read the card in the reader and show who it belongs to, masked (never in full)."""
        from kiosk.services.card_service import CardService

        reader = self.devices()["reader"]
        service = CardService(reader, self.cfg()["card.profile"])
        try:
            ident = service.insert_and_read(2.0)
        finally:
            service.end()
        h, info = ident.holder, ident.info
        return (f"holder {mask_id(h.id_number)} {mask_name(h.name)}, card {mask_card(info.card_number)}, "
                f"generation {info.generation}, expires {info.expiry_date or 'unknown'}, "
                f"ATR {(reader.atr or b'').hex()}, {ident.apdus} commands")

    def _camera_test(self) -> str:
        """A few frames: frames per second, the face detector's time and what it found, drawn."""
        import time as _time

        import numpy as np

        cam = self.devices()["camera"]
        frames, start = [], _time.monotonic()
        for frame in cam.frames():
            frames.append(frame)
            if len(frames) >= 10 or _time.monotonic() - start > 3:
                break
        if not frames:
            return "no frames"
        span = frames[-1].timestamp - frames[0].timestamp
        fps = (len(frames) - 1) / span if span > 0 else 0.0
        if self._engine is None:
            from kiosk.liveness.settings import LivenessSettings
            from kiosk.liveness.tracker import FaceEngine

            self._engine = FaceEngine.load(LivenessSettings.from_config(self.cfg()))
        rgb = frames[-1].rgb
        t0 = _time.perf_counter()
        found = self._engine.detector.detect(rgb)
        ms = (_time.perf_counter() - t0) * 1000
        preview = np.ascontiguousarray(rgb.copy())
        for det in found:
            x0, y0, x1, y1 = (int(v) for v in det.box)
            h, w = preview.shape[:2]
            x0, x1, y0, y1 = max(0, x0), min(w - 1, x1), max(0, y0), min(h - 1, y1)
            preview[y0:y0 + 3, x0:x1] = preview[y1 - 2:y1 + 1, x0:x1] = (0, 255, 0)
            preview[y0:y1, x0:x0 + 3] = preview[y0:y1, x1 - 2:x1 + 1] = (0, 255, 0)
        self.previews["camera"] = preview
        return f"{fps:.1f} fps, {len(found)} face(s), detector {ms:.1f} ms, {rgb.shape[1]}x{rgb.shape[0]}"


def cert_row(path: Path, label: str) -> Row:
    if not path.exists():
        return Row(label, f"{path}: missing", "bad")
    try:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(path.read_bytes())
        until = cert.not_valid_after_utc
        days = (until - dt.datetime.now(dt.UTC)).days
        return Row(label, f"expires {until:%Y-%m-%d} ({days} days)", "bad" if days < 0 else "warn" if days < 30 else "ok")
    except Exception as exc:
        return Row(label, f"{path}: unreadable ({problem(exc)})", "bad")


def clock_state() -> str:
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=2, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return "synchronised" if out.stdout.strip() == "yes" else "NOT synchronised"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "unknown (no timedatectl)"


def uptime() -> str:
    try:
        seconds = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return "unknown"
    d, rem = divmod(int(seconds), 86400)
    return f"{d} d {rem // 3600} h {rem % 3600 // 60} min"


def memory() -> str:
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        total = int(info["MemTotal"].split()[0]) / 1024
        avail = int(info["MemAvailable"].split()[0]) / 1024
        rss = next(int(row.split()[1]) / 1024 for row in Path("/proc/self/status").read_text().splitlines()
                   if row.startswith("VmRSS:"))
        return f"{avail:.0f} MB available of {total:.0f} MB; kiosk uses {rss:.0f} MB"
    except (OSError, KeyError, StopIteration):
        return "unknown"


def cpu_temp() -> str:
    path = Path("/sys/class/thermal/thermal_zone0/temp")
    try:
        return f"{int(path.read_text()) / 1000:.1f} °C"
    except (OSError, ValueError):
        return "not available on this machine"


