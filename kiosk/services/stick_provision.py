"""Provisioning from the USB stick without a shell (issue 17 #4): `kiosk provision --from`'s two
phases (kiosk/provision/install.py) as two stick tasks, and what the out-of-service page of an
unprovisioned kiosk says about them.

  provision-first  started by the stick's mount unit on an UNPROVISIONED kiosk when the stick holds
                   bundle.json (systemd/stick/kiosk-stick autostart; inline, by the out-of-service
                   page). It checks again and refuses on a provisioned kiosk: a stick found in a
                   kiosk that is in service never changes its identity by itself.
  provision        the maintenance menu's 'Provision from stick' (behind the technician PIN):
                   may provision a kiosk again, as `kiosk provision --from` may.

Phase 1 leaves the request (kiosk.csr) on the stick; phase 2 installs, and the kiosk units are
restarted (kiosk-sync, kiosk) so the kiosk comes into service with its new identity. Each outcome
is a stick.Outcome in <data_dir>/stick/<task>.json, which the page reads (the task runs as root
in kiosk-stick-task@<task>.service on the appliance; in the UI's process with simulated devices).
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk import provisioning
from kiosk.provision import bundle as bundle_mod
from kiosk.provision import install
from kiosk.provision.checks import BundleError
from kiosk.services.audit import AuditLog
from kiosk.services.stick import Outcome, result_path, stick_present, write_result

log = logging.getLogger(__name__)

FIRST, MENU = "provision-first", "provision"
RESTART = ("systemctl", "--no-block", "restart", "kiosk-sync.service", "kiosk.service")
WORKING_STALE_S = 600  # a 'working' left by a task that died is not believed after this
SHOWN_DONE_S = 300  # 'provisioned as ...' stays on the page this long (the units restart meanwhile)


def provisioned(cfg: Any) -> bool:
    """Has this kiosk an identity? A client certificate in the provisioning store, or the one
    the configuration names (the simulators' and a hand-built kiosk's)."""
    data_dir = Path(cfg["kiosk.data_dir"])
    return (provisioning.store_dir(data_dir) / bundle_mod.CERTIFICATE).exists() or \
        Path(cfg["sync.cert_file"]).exists()


def provision_task(task: str, cfg: Any, data_dir: Path, stick: Path) -> Outcome:
    """One run of `kiosk provision --from STICK` (both phases are kiosk.provision's), as an outcome."""
    if task == FIRST and provisioned(cfg):
        return Outcome(task, "already_provisioned", False,
                       "this kiosk is provisioned already: not changed from a stick found in it")
    try:
        done = install.provision(data_dir, stick)
    except BundleError as exc:
        return Outcome(task, f"refused_{exc.kind}", False, f"refused, nothing changed: {exc}",
                       {"kiosk": _bundle_id(stick)})
    except OSError as exc:
        why = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else (exc.strerror or str(exc))
        return Outcome(task, "provision_failed", False, f"nothing changed: {why}")
    try:
        AuditLog(data_dir / "audit.db").append(
            "provisioned" if isinstance(done, install.Installed) else "provisioning_requested",
            kiosk_id=done.kiosk_id, via=task)
    except (OSError, sqlite3.Error) as exc:
        log.warning("event=provision_audit_failed error=%r", exc)
    if isinstance(done, install.Installed):
        return Outcome(task, "provisioned", True,
                       f"provisioned as {done.kiosk_id}: certificate valid until {done.not_after:%Y-%m-%d}, "
                       f"bureau {done.bureau_url}", {"kiosk": done.kiosk_id})
    return Outcome(task, "requested", True, f"phase 1 done: certificate request for {done.kiosk_id} "
                   f"written to {done.request.name} on the stick", {"kiosk": done.kiosk_id})


def _bundle_id(stick: Path) -> str:
    try:
        return bundle_mod.read(stick).kiosk_id
    except (BundleError, OSError):
        return "?"


def restart_units(run: Callable[..., Any] = subprocess.run) -> None:
    """After phase 2 on the appliance: the sync daemon and the UI start again on the new identity."""
    try:
        run(list(RESTART), stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("event=provision_restart_failed error=%r", exc)


class FirstProvisioning:
    """The out-of-service page's side: is this kiosk unprovisioned, what has the stick's
    provisioning said last, and (inline, with simulated devices) start it when a stick holding a
    bundle is put in, once per insertion."""

    def __init__(self, cfg: Callable[[], Any], inline: bool, reload: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._cfg = cfg
        self.inline = inline
        self._reload = reload
        self._clock = clock
        self._was_present = False
        self.running = False
        self._needed: tuple[float, bool] | None = None  # (when, answer): asked every frame

    def needed(self) -> bool:
        now = time.monotonic()
        if self._needed is None or now - self._needed[0] >= 1.0:
            self._needed = (now, not provisioned(self._cfg()))
        return self._needed[1]

    @property
    def stick(self) -> Path:
        return Path(self._cfg()["maintenance.stick_dir"])

    def last(self) -> Outcome | None:
        """The provisioning task's last word, if it still holds: a 'working' left by a task that
        died, and a 'provisioned' of long ago, do not."""
        path = result_path(Path(self._cfg()["kiosk.data_dir"]), FIRST)
        try:
            age = self._clock() - path.stat().st_mtime
            out = Outcome.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError):
            return None
        if out.key == "provision_working" and age > WORKING_STALE_S:
            return Outcome(FIRST, "provision_failed", False, "the provisioning task stopped before it ended")
        if out.key == "provisioned" and age > SHOWN_DONE_S:
            return None
        return out

    def due(self) -> bool:
        """Inline only: a stick with a bundle has just been put into an unprovisioned kiosk."""
        if not self.inline or self.running:
            return False
        present = stick_present(self.stick, mounted=False) and (self.stick / bundle_mod.MANIFEST).is_file()
        fresh, self._was_present = present and not self._was_present, present
        return fresh and self.needed()

    def run_inline(self) -> Outcome:
        """What kiosk-stick-task@provision-first.service does, in this process (`make run`, tests);
        the units' restart is a reload of the configuration here."""
        self.running = True
        cfg, data_dir = self._cfg(), Path(self._cfg()["kiosk.data_dir"])
        try:
            working(data_dir, FIRST)
            out = provision_task(FIRST, cfg, data_dir, self.stick)
            write_result(data_dir, out)
            if out.key == "provisioned" and self._reload is not None:
                self._reload()
            return out
        finally:
            self.running, self._needed = False, None



def working(data_dir: Path, task: str) -> None:
    """`kiosk stick run provision*` says 'working' first: the page shows it while the stick is read."""
    try:
        write_result(data_dir, Outcome(task, "provision_working", True))
    except OSError as exc:
        log.warning("event=provision_working_not_written error=%r", exc)
