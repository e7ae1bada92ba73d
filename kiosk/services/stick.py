"""The USB-stick procedures of the maintenance menu: logs and the audit log out (masked, signed),
the unsent sealed queue out and in (an SD card replacement), an update bundle installed, the stick
made safe to remove. The work is the commands' own (kiosk/services/log_export.py,
kiosk/sync/queue_transfer.py, kiosk/services/updates.py); this module picks the stick, runs one
task and says how it went as an outcome the screen puts into words.

Where the task runs:
  systemd  on the appliance. The UI's sandbox may not read the kiosk's key or the kiosk units'
           journal, nor ask rauc to install, so each task runs as root in its own unit,
           kiosk-stick-task@<task>.service (`kiosk stick run <task>`), which a polkit rule lets
           the UI start and nothing else; that unit leaves its outcome in
           <data_dir>/stick/<task>.json for the UI to read. The stick itself is mounted by
           kiosk-stick@<device>.service (systemd/udev/71-kiosk-stick.rules) at
           `maintenance.stick_dir`; "safe to remove" stops that unit.
  inline   in this process, where the devices are simulated (devices.gpio = mock: `make run`,
           tests), as the power page does; any folder stands in for the stick.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kiosk.services import log_export, updates
from kiosk.services.audit import AuditLog
from kiosk.services.pages import Action, Page, Row, plain

log = logging.getLogger(__name__)

TASKS = ("logs-export", "queue-export", "queue-import", "update-install", "update-reboot",
         "provision", "provision-first")  # the last two: kiosk/services/stick_provision.py
TASK_UNIT = "kiosk-stick-task@{task}.service"
STICK_UNITS = "kiosk-stick@*.service"
RESULT_DIR = "stick"  # in the data directory: the root helper's outcome for the UI


@dataclass(frozen=True)
class Outcome:
    """How one task went. `key` names the plain words (stick.result.<key>, both languages);
    `detail` is the technical line, as the command prints it, for the technician and the log."""

    task: str
    key: str
    ok: bool
    detail: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        raw = json.loads(text)
        return cls(str(raw["task"]), str(raw["key"]), bool(raw["ok"]), str(raw.get("detail", "")),
                   dict(raw.get("fields", {})))


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _write_problem(task: str, exc: BaseException) -> Outcome:
    """A write to the stick that failed: full, read-only, or pulled out."""
    code = exc.errno if isinstance(exc, OSError) else None
    key = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EROFS: "read_only", errno.EACCES: "read_only",
           errno.EPERM: "read_only", errno.ENOENT: "no_stick", errno.EIO: "stick_error"}.get(code or 0, "failed")
    return Outcome(task, key, False, _why(exc))


def stick_present(stick: Path, mounted: bool) -> bool:
    """Is a stick there? On the appliance: something is mounted at the stick directory (the
    empty mount point is not a stick); inline: the directory exists."""
    return os.path.ismount(stick) if mounted else stick.is_dir()


def bundles_on(stick: Path) -> list[str]:
    """The update bundles at the top of the stick, as updates.find_bundle looks for them."""
    try:
        return sorted(p.name for p in stick.iterdir()
                      if p.name.endswith(updates.SUFFIX) and not p.name.startswith(".") and p.is_file())
    except OSError:
        return []


# ------------------------------------------------------------------ the tasks themselves

def run_task(task: str, cfg: Any, stick: Path, *, via: str = "menu",
             reboot: Callable[[], None] | None = None) -> Outcome:
    """Do one task with the stick at `stick`, audit it, and say how it went (never raises for
    what a stick or a bundle can do wrong). Runs as root in kiosk-stick-task@.service, or inline.
    On real devices the stick must be mounted there: never write into the empty mount point."""
    if task not in TASKS:
        return Outcome(task, "failed", False, f"unknown task {task!r}")
    data_dir, kiosk_id = Path(cfg["kiosk.data_dir"]), str(cfg["kiosk.id"])
    if task != "update-reboot" and not stick_present(stick, mounted=cfg["devices.gpio"] != "mock"):
        return Outcome(task, "no_stick", False, f"no stick mounted at {stick}")
    try:
        outcome = _TASKS[task](cfg, data_dir, kiosk_id, stick, reboot)
    except OSError as exc:
        outcome = _write_problem(task, exc)
    except sqlite3.Error as exc:
        outcome = Outcome(task, "failed", False, _why(exc))
    log.info("event=stick_task task=%s outcome=%s ok=%s", task, outcome.key, outcome.ok)
    try:
        AuditLog(data_dir / "audit.db").append("stick_task", task=task, outcome=outcome.key, via=via)
    except (OSError, sqlite3.Error) as exc:  # the work is done or not; the note is secondary
        log.warning("event=stick_audit_failed error=%r", exc)
    return outcome


def _logs_export(cfg: Any, data_dir: Path, kiosk_id: str, stick: Path, _reboot: Any) -> Outcome:
    key = cfg["sync.key_file"]
    try:
        done = log_export.export(data_dir, kiosk_id, stick, Path(key) if key else None)
    except log_export.ExportFailed as exc:
        return Outcome("logs-export", "logs_failed", False, str(exc))
    fields = {"folder": done.path.name, "journal": done.journal_entries if done.journal_entries is not None else "-",
              "audit": done.audit_entries if done.audit_entries is not None else "-"}
    if not done.signed:
        return Outcome("logs-export", "logs_unsigned", False, done.unsigned_why, fields)
    return Outcome("logs-export", "logs_done", True, f"written and signed: {done.path}", fields)


def _queue_export(cfg: Any, data_dir: Path, kiosk_id: str, stick: Path, _reboot: Any) -> Outcome:
    from kiosk.sync import queue_transfer
    from kiosk.sync.storage import StorageError

    try:
        done = queue_transfer.export(data_dir, kiosk_id, stick)
    except StorageError as exc:
        return Outcome("queue-export", "failed", False, _why(exc))
    return Outcome("queue-export", "queue_exported" if done.count else "queue_empty", True,
                   f"{done.count} submission(s) ({done.dead} dead-lettered) to {done.path}",
                   {"n": done.count, "folder": done.path.name})


def _queue_import(cfg: Any, data_dir: Path, kiosk_id: str, stick: Path, _reboot: Any) -> Outcome:
    from kiosk.sync import queue_transfer
    from kiosk.sync.storage import StorageError

    try:
        queue_transfer.locate(stick, kiosk_id)
    except queue_transfer.TransferRefused as exc:
        return Outcome("queue-import", "no_queue", False, str(exc), {"kiosk": kiosk_id})
    try:
        done = queue_transfer.import_(data_dir, kiosk_id, stick)
    except queue_transfer.TransferRefused as exc:
        return Outcome("queue-import", "queue_refused", False, str(exc))
    except StorageError as exc:
        return Outcome("queue-import", "failed", False, _why(exc))
    if done.export_seen:
        return Outcome("queue-import", "queue_seen", True, f"imported before ({done.count})", {"n": done.count})
    return Outcome("queue-import", "queue_imported", True, f"{done.added} of {done.count} added",
                   {"added": done.added, "n": done.count})


def _update_install(cfg: Any, data_dir: Path, kiosk_id: str, stick: Path, _reboot: Any) -> Outcome:
    try:
        bundle = updates.find_bundle(stick)
    except updates.NoBundle as exc:
        many = len(bundles_on(stick)) > 1
        return Outcome("update-install", "many_bundles" if many else "no_bundle", False, str(exc))
    try:
        done = updates.install(bundle)
    except updates.NoRauc as exc:
        return Outcome("update-install", "no_rauc", False, str(exc), {"bundle": bundle.name})
    except updates.RaucRefused as exc:
        return Outcome("update-install", "bundle_refused", False, str(exc), {"bundle": bundle.name})
    return Outcome("update-install", "update_installed", True, done.output.splitlines()[-1] if done.output else "",
                   {"bundle": bundle.name})


def _update_reboot(cfg: Any, data_dir: Path, kiosk_id: str, stick: Path, reboot: Any) -> Outcome:
    if reboot is None:
        subprocess.run(["systemctl", "reboot", "0 tryboot"], check=True, timeout=30)
    else:
        reboot()
    return Outcome("update-reboot", "rebooting", True, updates.REBOOT_HINT)


def _provision(task: str) -> Callable[[Any, Path, str, Path, Any], Outcome]:
    def run(cfg: Any, data_dir: Path, kiosk_id: str, stick: Path, _reboot: Any) -> Outcome:
        from kiosk.services.stick_provision import provision_task

        return provision_task(task, cfg, data_dir, stick)
    return run


_TASKS: dict[str, Callable[[Any, Path, str, Path, Any], Outcome]] = {
    "logs-export": _logs_export, "queue-export": _queue_export, "queue-import": _queue_import,
    "update-install": _update_install, "update-reboot": _update_reboot,
    "provision": _provision("provision"), "provision-first": _provision("provision-first")}


def result_path(data_dir: Path, task: str) -> Path:
    return Path(data_dir) / RESULT_DIR / f"{task}.json"


def write_result(data_dir: Path, outcome: Outcome) -> Path:
    """The root helper's outcome, written atomically where the UI (group kiosk-data) reads it."""
    path = result_path(data_dir, outcome.task)
    path.parent.mkdir(mode=0o2770, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(outcome.to_json() + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ what the menu holds

class Stick:
    """The maintenance menu's view of the stick: is one there, what is on it, run a task, eject.
    Blocking (a task takes seconds to minutes): the screen calls it from a worker."""

    def __init__(self, cfg: Callable[[], Any], inline: bool,
                 run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run, timeout_s: float = 3600) -> None:
        self._cfg = cfg
        self.via = "inline" if inline else "systemd"
        self._run = run
        self.timeout_s = timeout_s
        self.sim_requests: list[str] = []  # inline: what would have rebooted or unmounted the host
        self.outcome: Outcome | None = None  # how the last task went, until another stick is put in
        self._was_present = False

    @property
    def path(self) -> Path:
        return Path(self._cfg()["maintenance.stick_dir"])

    def present(self) -> bool:
        return stick_present(self.path, mounted=self.via == "systemd")

    def bundles(self) -> list[str]:
        return bundles_on(self.path) if self.present() else []

    def free_mb(self) -> float | None:
        try:
            st = os.statvfs(self.path)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize / 2 ** 20

    def run(self, task: str) -> Outcome:
        if task not in TASKS:
            raise ValueError(f"unknown stick task {task!r}")
        if task != "update-reboot" and not self.present():
            return Outcome(task, "no_stick", False, f"nothing mounted at {self.path}")
        if self.via == "inline":
            out = run_task(task, self._cfg(), self.path, reboot=lambda: self.sim_requests.append(task))
            if out.key == "provisioned":  # on the appliance the task restarts the kiosk's units
                self.sim_requests.append("restart")
            return out
        return self._via_helper(task)

    def _via_helper(self, task: str) -> Outcome:
        data_dir = Path(self._cfg()["kiosk.data_dir"])
        result = result_path(data_dir, task)
        try:
            result.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            return Outcome(task, "helper_failed", False, _why(exc))
        started = dt.datetime.now(dt.UTC)
        try:
            proc = self._run(["systemctl", "--no-ask-password", "start", TASK_UNIT.format(task=task)],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=self.timeout_s,
                             check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Outcome(task, "helper_failed", False, _why(exc))
        try:
            return Outcome.from_json(result.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            why = (proc.stderr or proc.stdout or "").strip() or _why(exc)
            log.warning("event=stick_helper_failed task=%s exit=%s since=%s", task, proc.returncode, started)
            return Outcome(task, "helper_failed", False, why[:300])

    def eject(self) -> Outcome:
        """Write everything out and unmount: the stick may then be pulled."""
        os.sync()
        if self.via == "inline":
            self.sim_requests.append("eject")
            return Outcome("eject", "ejected", True, f"{self.path}: written out")
        try:
            proc = self._run(["systemctl", "--no-ask-password", "stop", STICK_UNITS], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Outcome("eject", "eject_failed", False, _why(exc))
        if proc.returncode != 0 or self.present():
            return Outcome("eject", "eject_failed", False, (proc.stderr or "still mounted").strip()[:300])
        return Outcome("eject", "ejected", True, f"{self.path}: unmounted")

    # ------------------------------------------------------------------ the menu's page
    def act(self, action_id: str) -> None:
        """A button of the page (logs_export, ..., eject); its outcome is what the page says next."""
        self.outcome = self.eject() if action_id == "eject" else self.run(action_id.replace("_", "-"))

    def page(self, failure: str | None = None) -> Page:
        """Is a stick there, its free space and update bundles, the tasks, and how the last went.
        The tasks stay tappable without a stick: the answer is then the plain 'no stick'."""
        present = self.present()
        if present and not self._was_present:
            self.outcome = None  # a stick put in: what was said about the last one is over
        self._was_present = present
        rows = [Row("diag.stick.state", "none", "warn")]
        if present:
            free = self.free_mb()
            rows = [Row("diag.stick.state", f"{self.path}" + (f" · {free:.0f} MB free" if free is not None else ""),
                        "ok"), Row("diag.stick.bundles", ", ".join(self.bundles()) or "none")]
        out = self.outcome
        if out is not None and out.detail:
            rows.append(Row("diag.stick.detail", plain(out.detail), "ok" if out.ok else "bad"))
        if failure:  # the task itself raised (a bug): its words
            rows.append(Row("diag.last_result", failure, "bad"))
        actions = [Action(task.replace("-", "_"), f"diag.action.stick_{task.replace('-', '_')}",
                          confirm=task in ("queue-import", "update-install")) for task in TASKS[:4]]
        if out is not None and out.key == "update_installed":
            actions.append(Action("update_reboot", "diag.action.stick_update_reboot", confirm=True))
        actions.append(Action("provision", "diag.action.stick_provision", confirm=True))
        actions.append(Action("eject", "diag.action.stick_eject", enabled=present))
        note, fields, state = ("stick.ready", {}, "") if present else ("stick.insert", {}, "warn")
        if out is not None:
            note, fields, state = f"stick.result.{out.key}", dict(out.fields), "ok" if out.ok else "bad"
        return Page("stick", "diag.page.stick", tuple(rows), tuple(actions), note=note, note_fields=fields,
                    note_state=state)
