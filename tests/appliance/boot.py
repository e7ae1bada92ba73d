"""The nspawn boot test: boot the appliance's units in a Debian rootfs and watch them work.

`python -m tests.appliance.boot` (or `make test-appliance`) builds or reuses the cached rootfs
(tests/appliance/rootfs.py), installs the freshly built wheel and the units, starts the bureau
simulator on the host's loopback (the container shares the host network), boots the rootfs
with `systemd-nspawn -b`, and checks:

  verify        `systemd-analyze verify --root=ROOTFS` on both units: no stderr at all
  sync_active   kiosk-sync.service reaches active (Type=notify: READY=1 once its socket listens)
  heartbeat     the bureau simulator received the kiosk's heartbeat over mutual TLS
  ui_socket     user kiosk reaches the sync daemon's socket (`kiosk sync status`)
  ui_active     kiosk.service reaches active under SDL_VIDEODRIVER=dummy (READY=1 from the UI)
  venv_numpy    the venv's native modules (cv2, LiteRT, pygame, pyscard) load with Debian's numpy
  data_dir      files in /var/lib/kiosk belong to kiosk-data and are group-writable
  watchdog      a unit built from kiosk.service whose main loop hangs (hangprobe.py) is killed
                by the watchdog and restarted, and its worker thread ran on during the hang
  ui_sandbox_socket  a process in kiosk.service's sandbox reaches the sync socket
  ui_hang       the same with the real UI, through its KIOSK_TEST_HANG_AFTER_S hook
  ui_stop       `systemctl stop kiosk.service` ends cleanly on SIGTERM, not by SIGKILL

Journals and the console log of the last run are kept in out/appliance/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.appliance import rootfs
from tests.appliance.container import Container
from tests.appliance.rootfs import REPO, VENV, Timings

KIOSK_ID = "KIOSK-0001"
UNITS = ("kiosk.service", "kiosk-sync.service")
HANG_HOOK = "KIOSK_TEST_HANG_AFTER_S"
TEST_WATCHDOG_S = 4
LOG_DIR = REPO / "out" / "appliance"

# The test's changes to the units: a dummy display and no devices. Everything else (user,
# groups, sandbox, notify, watchdog) stays as shipped.
UI_DROPIN = f"""\
[Unit]
StartLimitAction=none

[Service]
Environment=SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
Environment=KIOSK_READER=none KIOSK_CAMERA=none KIOSK_PRINTER=none KIOSK_GPIO=mock
Environment=KIOSK_UI_FULLSCREEN=false KIOSK_UI_RESOLUTION=800x480
# A container has no /dev/tty1.
StandardInput=null
TTYReset=no
TTYVHangup=no
TTYVTDisallocate=no
WatchdogSec={TEST_WATCHDOG_S}s
"""

KIOSK_TOML = """\
[kiosk]
id = "{kiosk_id}"

[sync]
bureau_url = "https://127.0.0.1:{port}"
heartbeat_s = 5
"""


def cannot_run() -> str | None:
    """Why this machine cannot run the boot test, or None."""
    if os.environ.get("KIOSK_SKIP_APPLIANCE"):
        return "KIOSK_SKIP_APPLIANCE is set"
    if os.geteuid() != 0:
        return "needs root (mmdebstrap, overlay mount, systemd-nspawn)"
    for tool, pkg in (
        ("mmdebstrap", "mmdebstrap"),
        ("systemd-nspawn", "systemd-container"),
        ("nsenter", "util-linux"),
        ("systemd-analyze", "systemd"),
    ):
        if not shutil.which(tool):
            return f"{tool} not installed (apt-get install {pkg})"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "no overlayfs in this kernel"
    return None


@dataclass
class BootResult:
    timings: Timings = field(default_factory=Timings)
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks[name] = (bool(ok), detail)
        return bool(ok)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.checks.values())

    def report(self) -> str:
        lines = [
            f"{'PASS' if ok else 'FAIL'} {name}: {detail}"
            for name, (ok, detail) in self.checks.items()
        ]
        lines += [f"SKIP {name}: {why}" for name, why in self.skipped.items()]
        lines.append(f"timings: {self.timings}")
        return "\n".join(lines)


class Bureau:
    """The bureau simulator on the host's loopback, with a fresh state folder per run."""

    def __init__(self, state: Path) -> None:
        self.state = state
        ready = state / "ready.json"
        with open(state.parent / "bureau.log", "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "simulators.bureau",
                    "--state",
                    str(state),
                    "--port",
                    "0",
                    "--kiosk-id",
                    KIOSK_ID,
                    "--ready-file",
                    str(ready),
                ],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"bureau simulator did not start; see {state.parent / 'bureau.log'}"
                )
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        self.port, self.admin_port = info["port"], info["admin_port"]

    def heartbeats(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.admin_port}/heartbeats", timeout=5
        ) as r:
            data = json.load(r)
        return data.get("heartbeats", data) if isinstance(data, dict) else data

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def prepare(root: Path, kiosk_whl: Path, bureau: Bureau) -> None:
    """The per-run layer: this tree's wheel, the units as shipped, test config and drop-ins."""
    rootfs.run(
        rootfs.nspawn_cmd(
            root,
            f"{VENV}/bin/python",
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--force-reinstall",
            f"/mnt/dist/{kiosk_whl.name}",
            binds={kiosk_whl.parent: "/mnt/dist"},
        )
    )
    rootfs.run(["bash", str(REPO / "scripts" / "appliance-install.sh"), str(root)])
    tls = root / "etc/kiosk/tls"
    # The key where `kiosk provision` puts it and kiosk-sync.service loads it as a credential:
    # the provisioning store (root's, group kiosk-data as tmpfiles' Z line makes it at boot).
    store = root / "var/lib/kiosk/provisioning"
    store.mkdir(mode=0o750, parents=True, exist_ok=True)
    for src, dst, mode in (
        ("server-ca.pem", tls / "bureau-ca.pem", 0o644),  # the server CA: it signs no kiosk
        (f"kiosk-{KIOSK_ID}.pem", tls / "kiosk.pem", 0o644),
        (f"kiosk-{KIOSK_ID}.key", store / "kiosk.key", 0o600),
        ("bureau-hpke-public.pem", tls / "bureau-hpke-public.pem", 0o644),
    ):
        shutil.copyfile(bureau.state / src, dst)
        os.chmod(dst, mode)
    gid = next((int(line.split(":")[2]) for line in (root / "etc/group").read_text().splitlines()
                if line.startswith("kiosk-data:")), None)
    if gid is not None:
        for path in (store, store / "kiosk.key"):
            os.chown(path, 0, gid)
    (root / "etc/kiosk/kiosk.toml").write_text(
        KIOSK_TOML.format(kiosk_id=KIOSK_ID, port=bureau.port)
    )


def add_test_units(root: Path) -> None:
    units = root / "etc/systemd/system"
    (units / "kiosk.service.d").mkdir(parents=True, exist_ok=True)
    (units / "kiosk.service.d/50-boot-test.conf").write_text(UI_DROPIN)
    # The watchdog probe runs under kiosk.service exactly as shipped, but for its ExecStart.
    shipped = (root / "usr/lib/systemd/system/kiosk.service").read_text()
    probe = re.sub(
        r"(?m)^ExecStart=.*$",
        f"ExecStart={VENV}/bin/python /usr/local/lib/kiosk-boot-test/hangprobe.py",
        shipped,
    )
    probe = re.sub(r"(?ms)^\[Install\].*", "", probe).replace(
        "Description=", "Description=Watchdog probe: ", 1
    )
    (units / "kiosk-hangprobe.service").write_text(probe)
    (units / "kiosk-hangprobe.service.d").mkdir(exist_ok=True)
    (units / "kiosk-hangprobe.service.d/50-boot-test.conf").write_text(UI_DROPIN)
    lib = root / "usr/local/lib/kiosk-boot-test"
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("hangprobe.py"), lib / "hangprobe.py")


def verify_units(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *UNITS],
        check=False,
        text=True,
        capture_output=True,
    )


VENV_PROBE = (
    "import numpy, cv2, pygame, smartcard, ai_edge_litert.interpreter as li; "
    "print(numpy.__version__, numpy.__file__, cv2.__version__)"
)


def venv_numpy_ok(c: Container) -> tuple[bool, str]:
    """The venv imports its native modules with Debian's numpy (system site packages), not a
    numpy of its own: what picamera2 needs on the Pi."""
    debian = c.sh("dpkg-query", "-W", "-f", "${Version}", "python3-numpy").stdout
    out = c.sh("env", "PYGAME_HIDE_SUPPORT_PROMPT=1", f"{VENV}/bin/python", "-c", VENV_PROBE)
    words = out.stdout.split()
    ok = (
        out.returncode == 0
        and len(words) == 3
        and words[1].startswith("/usr/lib/python3/")
        and words[0] in debian
    )
    return (
        ok,
        f"debian python3-numpy {debian}; venv sees: {out.stdout.strip() or out.stderr.strip()[-300:]}",
    )


def data_dir_ok(c: Container) -> tuple[bool, str]:
    """Everything in the data directory belongs to kiosk-data; the databases both services open
    (every one the sync daemon created or chmod-ed: owner kiosk-sync or mode 66x) are group rw
    together with their -wal/-shm files, so neither service can lock the other out."""
    out = c.sh("find", "/var/lib/kiosk", "-printf", "%p %u %g %m\\n").stdout
    rows = [r.split() for r in out.splitlines() if r.strip()]
    wrong_group = [r[0] for r in rows if r[2] != "kiosk-data"]
    modes = {r[0]: int(r[3], 8) for r in rows}
    shared = {p for p, m in modes.items() if p.endswith(".db") and m & 0o060 == 0o060}
    shared |= {r[0] for r in rows if r[0].endswith(".db") and r[1] == "kiosk-sync"}
    not_rw = [
        f
        for db in shared
        for f in (db, db + "-wal", db + "-shm")
        if f in modes and modes[f] & 0o060 != 0o060
    ]
    listing = ", ".join(f"{r[0].rsplit('/', 1)[-1]}={r[1]}:{r[2]}:{r[3]}" for r in rows)
    return (
        bool(shared) and not wrong_group and not not_rw,
        f"shared dbs={sorted(shared)} wrong group={wrong_group} shared but not group rw={not_rw}; {listing}",
    )


def check_hang(
    c: Container, res: BootResult, name: str, unit: str, hang_marker: str, timeout: float = 40
) -> None:
    """Wait for the watchdog to kill UNIT once; check the kill, the restart and the threads."""
    before = int(c.show(unit, "NRestarts").get("NRestarts", "0") or 0)
    ok, waited, _ = c.wait_for(unit, lambda s: int(s.get("NRestarts") or 0) > before, timeout)
    res.timings.steps[f"{name}_kill_restart"] = round(waited, 1)
    log = c.journal(unit)
    watchdog = "Watchdog timeout" in log
    dump = log.count("Thread 0x") + log.count("Current thread 0x")
    ticks_after = 0
    if hang_marker in log:
        tail = log.split(hang_marker, 1)[1].split("Watchdog timeout", 1)[0]
        ticks_after = tail.count("event=probe_worker_tick") if name == "watchdog" else dump
    restarted, _, after = c.wait_for(unit, lambda s: s.get("ActiveState") == "active", 30)
    res.check(
        name,
        ok and watchdog and dump >= 2 and restarted and (ticks_after >= 2 or name != "watchdog"),
        f"restarts {before}->{after.get('NRestarts')} in {waited:.1f}s, watchdog_msg={watchdog}, "
        f"threads_in_dump={dump}, worker_ticks_during_hang={ticks_after}, state={after.get('ActiveState')}",
    )


def run_boot_test(keep: bool = False) -> BootResult:
    res = BootResult()
    t = res.timings
    start = time.monotonic()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    base = rootfs.base_rootfs(t)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=rootfs.cache_dir()))
    try:
        return _boot_and_check(res, base, work, start)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _boot_and_check(res: BootResult, base: Path, work: Path, start: float) -> BootResult:
    t = res.timings
    kiosk_whl, deps = rootfs.build_wheels(work / "wheels", rootfs.debian_constraints(base), t)
    venv = rootfs.venv_rootfs(base, deps, t)
    rootfs.gc([base, venv])
    (work / "bureau").mkdir()
    bureau = Bureau(work / "bureau")
    container: Container | None = None
    try:
        with rootfs.overlay(venv, work / "ovl") as root:
            with t.step("prepare"):
                prepare(root, kiosk_whl, bureau)
                v = verify_units(root)
                res.check(
                    "verify",
                    v.stderr.strip() == "" and v.returncode == 0,
                    f"rc={v.returncode} stderr={v.stderr.strip()!r}",
                )
                add_test_units(root)
            container = Container(root, LOG_DIR / "console.log")
            boot_start = time.monotonic()
            container.boot()
            _, _, st = container.wait_for(
                "kiosk-sync.service", lambda s: s.get("ActiveState") in ("active", "failed"), 90
            )
            t.steps["boot_to_sync_active"] = round(time.monotonic() - boot_start, 1)
            res.check("sync_active", st.get("ActiveState") == "active", str(st))
            _, _, st = container.wait_for(
                "kiosk.service", lambda s: s.get("ActiveState") in ("active", "failed"), 90
            )
            t.steps["boot_to_ui_active"] = round(time.monotonic() - boot_start, 1)
            res.check(
                "ui_active",
                st.get("ActiveState") == "active" and st.get("NRestarts") == "0",
                str(st),
            )

            res.check("venv_numpy", *venv_numpy_ok(container))

            beats: list[dict[str, object]] = []
            deadline = time.monotonic() + 20
            while not beats and time.monotonic() < deadline:
                beats = [b for b in bureau.heartbeats() if KIOSK_ID in json.dumps(b)]
                time.sleep(0.5)
            res.check("heartbeat", bool(beats), f"{len(beats)} heartbeat(s) from {KIOSK_ID}")

            # The bureau records the heartbeat before the daemon has read its answer and marked
            # itself online: ask a few times rather than once.
            status: dict[str, object] = {}
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                st = container.sh(
                    "runuser", "-u", "kiosk", "--", f"{VENV}/bin/kiosk", "sync", "status", "--json"
                )
                try:
                    status = json.loads(st.stdout)
                except ValueError:
                    status = {}
                if status.get("online") is True:
                    break
                time.sleep(0.5)
            res.check(
                "ui_socket",
                status.get("daemon_running") is True and status.get("online") is True,
                f"as user kiosk: {st.stdout.strip() or st.stderr.strip()}",
            )

            res.check("data_dir", *data_dir_ok(container))

            container.sh("systemctl", "start", "--no-block", "kiosk-hangprobe.service")
            check_hang(container, res, "watchdog", "kiosk-hangprobe.service", "event=probe_hang")
            probe_log = container.journal("kiosk-hangprobe.service")
            res.check(
                "ui_sandbox_socket",
                "event=probe_sync daemon_running=True online=True" in probe_log,
                "a process in kiosk.service's sandbox asked the sync daemon for its status",
            )
            container.sh("systemctl", "stop", "kiosk-hangprobe.service")

            app_py = next(root.glob(f"{VENV.lstrip('/')}/lib/python3*/site-packages/kiosk/app.py"))
            if HANG_HOOK in app_py.read_text():
                dropin = root / "etc/systemd/system/kiosk.service.d/60-hang.conf"
                dropin.write_text(f"[Service]\nEnvironment={HANG_HOOK}=3\n")
                container.sh("systemctl", "daemon-reload")
                container.sh("systemctl", "restart", "--no-block", "kiosk.service")
                time.sleep(1)
                check_hang(container, res, "ui_hang", "kiosk.service", "Watchdog timeout")
                dropin.unlink()
                container.sh("systemctl", "daemon-reload")
                container.sh("systemctl", "restart", "kiosk.service")
            else:
                res.skipped["ui_hang"] = f"kiosk/app.py has no {HANG_HOOK} hook yet"

            # A stop (shutdown, update, technician restart) must not wait for SIGKILL.
            stop_start = time.monotonic()
            container.sh("systemctl", "stop", "kiosk.service", timeout=60)
            stop_s = time.monotonic() - stop_start
            t.steps["ui_stop"] = round(stop_s, 1)
            st = container.show("kiosk.service", "Result", "ActiveState", "ExecMainStatus")
            res.check(
                "ui_stop",
                st.get("Result") == "success" and stop_s < 10,
                f"systemctl stop took {stop_s:.1f}s; {st}",
            )

            for unit in (*UNITS, "kiosk-hangprobe.service"):
                (LOG_DIR / f"{unit}.log").write_text(container.journal(unit))
            with t.step("poweroff"):
                container.poweroff()
            container = None
    finally:
        if container is not None:
            container.poweroff()
        bureau.close()
        t.steps["total"] = round(time.monotonic() - start, 1)
    return res


def main() -> int:
    why = cannot_run()
    if why:
        print(f"appliance boot test skipped: {why}")
        return 0
    res = run_boot_test(keep="--keep" in sys.argv)
    print(res.report())
    return 0 if res.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
