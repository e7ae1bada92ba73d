"""Every command in the README's `kiosk` table, run as a user runs it: the installed `kiosk` entry
point in a subprocess, on the simulators, checking output and that each exit code is one the
README documents for that row. The table is parsed here, so a row without a test fails.

Card tests start the card stack: run this file under `flock /tmp/kiosk-cardstack.lock`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CARD_READER, PSAM_READER, Stack

ROOT = Path(__file__).resolve().parents[1]
KIOSK = str(Path(sys.executable).parent / "kiosk")  # the console script `pip install` made
ANY_COMMAND = {1, 2, 130}  # the README: ordinary failure, usage or config error, interrupted


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def readme_table() -> dict[str, set[int]]:
    """usage -> the exit codes its row documents."""
    rows = {}
    for line in readme_section("The `kiosk` command").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and cells[0].startswith("`kiosk"):
            rows[cells[0].strip("`")] = {int(n) for n in re.findall(r"\*\*(\d+)\*\*", cells[2])}
    return rows


TABLE = readme_table()
# usage in the README -> the tests below that run it
COVERED = {
    "kiosk --version": "test_version",
    "kiosk run [--sim] [--config PATH]": "test_run_until_sigterm",
    "kiosk check-config PATH": "test_check_config",
    "kiosk config --defaults": "test_config_defaults_and_show",
    "kiosk config --show [--config PATH]": "test_config_defaults_and_show",
    "kiosk config set KEY VALUE": "test_config_set_on_site",
    "kiosk sync run": "test_sync_commands_with_the_daemon_down_and_up",
    "kiosk sync status [--json]": "test_sync_commands_with_the_daemon_down_and_up",
    "kiosk sync retry-dead": "test_sync_commands_with_the_daemon_down_and_up",
    "kiosk printer status [--json]": "test_printer_commands_on_the_simulator",
    "kiosk printer test": "test_printer_commands_on_the_simulator",
    "kiosk liveness check --camera SPEC": "test_liveness_check_*",
    "kiosk liveness eval [--trials N]": "test_liveness_eval_bounded",
    "kiosk maintenance set-pin": "test_set_pin_*",
    "kiosk card info [--json] [--unmasked]": "test_card_info_*",
    "kiosk provision --from DIR [--config PATH]": "test_provision_commands_on_the_bureau_simulators_files",
    ("kiosk provision bundle DIR --kiosk-id ID --bureau-url URL --kiosk-ca PEM --server-ca PEM "
     "--sealing-key PEM"): "test_provision_commands_on_the_bureau_simulators_files",
    "kiosk queue export DIR [--config PATH]": "test_queue_export_and_import_commands",
    "kiosk queue import DIR [--config PATH]": "test_queue_export_and_import_commands",
    "kiosk idcard info [--json] [--unmasked]": "test_idcard_info_*",
    "kiosk logs export --to DIR [--since WHEN] [--journal-dir DIR]": "test_logs_export_and_verify_commands",
    "kiosk logs verify DIR --cert PEM": "test_logs_export_and_verify_commands",
    "kiosk update install --from DIR": "test_update_install_command",
    "kiosk stick run TASK": "test_stick_run_command",
}


def test_every_row_of_the_readme_table_is_run_here():
    assert TABLE, "no `kiosk` table found in the README"
    assert set(TABLE) == set(COVERED)
    assert all(TABLE.values()), "a row without its exit codes"


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no KIOSK_* leaking from the test run, a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_") and k != "NOTIFY_SOCKET"}
    env.update(KIOSK_CONFIG=str(write(tmp / "kiosk.toml", '[kiosk]\nid = "KIOSK-0001"\n')),
               KIOSK_DATA_DIR=str(tmp / "data"), SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    env.update(extra)
    return env


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text, encoding="utf-8")
    return path


def kiosk(*args: str, env: dict[str, str], stdin: Any = subprocess.DEVNULL, input: str | None = None,
          timeout: float = 60, user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(user or []), KIOSK, *args], env=env, capture_output=True, text=True, check=False,
                          timeout=timeout, cwd=ROOT, **({"input": input} if input is not None else {"stdin": stdin}))


def expect(usage: str, res: subprocess.CompletedProcess[str], code: int) -> None:
    """The exit code is the one wanted, the README documents it for this row, no traceback."""
    assert res.returncode == code, f"{res.args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert code in TABLE[usage] | ANY_COMMAND, f"exit {code} of {usage!r} is not in the README"
    assert "Traceback" not in res.stderr + res.stdout
    if code:
        assert res.stderr.strip() or res.stdout.strip(), "a failure says why"


def stopped(usage: str, code: int) -> None:
    """A command that runs until stopped exits 0 on SIGTERM, as its row says."""
    assert code == 0 and 0 in TABLE[usage], f"{usage!r} exited {code} on SIGTERM"


class Notify:
    """The test's own NOTIFY_SOCKET: what systemd would hear."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="notify-", dir="/tmp")) / "s"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))

    def wait_ready(self, proc: subprocess.Popen[str], timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"exited {proc.returncode} before READY=1: {proc.stderr.read()}"  # type: ignore[union-attr]
            self.sock.settimeout(0.5)
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            if "READY=1" in message.splitlines():
                return message
        raise AssertionError("no READY=1")

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)
        self.path.parent.rmdir()


def run_until_ready_then_sigterm(args: list[str], env: dict[str, str], check: Any = None) -> int:
    notify = Notify()
    proc = subprocess.Popen([KIOSK, *args], env={**env, "NOTIFY_SOCKET": str(notify.path)}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        notify.wait_ready(proc)
        if check is not None:
            check()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert "Traceback" not in err
        return proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()


# --- commands that need nothing running --------------------------------------------------------

def test_version(tmp_path):
    from kiosk import __version__

    res = kiosk("--version", env=env_for(tmp_path))
    expect("kiosk --version", res, 0)
    assert res.stdout.strip() == f"kiosk {__version__}"


def test_check_config(tmp_path):
    env, usage = env_for(tmp_path), "kiosk check-config PATH"
    good = write(tmp_path / "good.toml", '[devices]\nprinter = "tcp:127.0.0.1:9100"\n[ui]\nresolution = "1280x800"\n')
    res = kiosk("check-config", str(good), env=env)
    expect(usage, res, 0)
    assert "ok" in res.stdout
    for text, words in (('[devices]\nprinter = "lpt1"\n', "devices.printer: unknown printer"),
                        ('[session]\ninactivity_s = nan\n', "session.inactivity_s: must be a finite")):
        res = kiosk("check-config", str(write(tmp_path / "bad.toml", text)), env=env)
        expect(usage, res, 2)
        assert words in res.stderr and res.stderr.count("\n") == 1
    expect(usage, kiosk("check-config", str(tmp_path), env=env), 2)


def test_config_defaults_and_show(tmp_path):
    import tomllib

    env = env_for(tmp_path)
    res = kiosk("config", "--defaults", env=env)
    expect("kiosk config --defaults", res, 0)
    uncommented = re.sub(r"^# ([a-z_]+ = )", r"\1", res.stdout, flags=re.M)
    assert tomllib.loads(uncommented)["ui"]["language"] == "zh_CN"
    mine = write(tmp_path / "mine.toml", '[ui]\nlanguage = "en"\n')
    res = kiosk("config", "--show", "--config", str(mine), env=env)
    expect("kiosk config --show [--config PATH]", res, 0)
    assert "ui.language = 'en'  # file" in res.stdout and "ui.fps = 30  # default" in res.stdout
    res = kiosk("config", "--show", env={**env, "KIOSK_CAMERA": "webcam"})
    expect("kiosk config --show [--config PATH]", res, 2)
    assert "KIOSK_CAMERA: devices.camera: unknown camera 'webcam'" in res.stderr


def test_config_set_on_site(tmp_path):
    env, usage = env_for(tmp_path), "kiosk config set KEY VALUE"
    res = kiosk("config", "set", "devices.printer", "tcp:10.0.0.5:9100", env=env)
    expect(usage, res, 0)
    assert (tmp_path / "data" / "technician-settings.toml").read_text() == '[devices]\nprinter = "tcp:10.0.0.5:9100"\n'
    res = kiosk("config", "set", "sync.key_file", "/tmp/k", env=env)
    expect(usage, res, 2)
    assert "sync.key_file: may not be changed on site" in res.stderr


def test_run_until_sigterm(tmp_path):
    sock_dir = tempfile.mkdtemp(prefix="ks-", dir="/tmp")
    cfg = write(tmp_path / "run.toml", f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n'
                '[devices]\nreader = "none"\ncamera = "none"\nprinter = "none"\ngpio = "mock"\n'
                '[ui]\nresolution = "1280x800"\nfullscreen = false\nvoice = false\n'
                f'[sync]\nsocket_path = "{sock_dir}/sync.sock"\n')
    env = env_for(tmp_path)
    stopped("kiosk run [--sim] [--config PATH]", run_until_ready_then_sigterm(["run", "--config", str(cfg)], env))
    # A refused image config keeps the UI up, out of service (issue 13): its good keys still apply.
    bad = write(tmp_path / "bad.toml", cfg.read_text().replace('"1280x800"', '"big"'))
    stopped("kiosk run [--sim] [--config PATH]", run_until_ready_then_sigterm(["run", "--config", str(bad)], env))


# --- the sync daemon and its queue, against the bureau simulator ------------------------------

def _dead_letter(data_dir: Path) -> None:
    """One submission the bureau refused for good, as the queue keeps it."""
    from kiosk.sync.outbox import Outbox

    class Opaque:
        def seal(self, payload: bytes, meta: Any) -> bytes:
            return b"sealed"

    with Outbox(data_dir, "KIOSK-0001", Opaque(), min_free_mb=1) as outbox:
        outbox.enqueue("card_loss_report", {"card_number": "A00000001"})
        outbox.dead_letter([item.id for item in outbox.claim_batch(1)], "refused by the test")


def test_sync_commands_with_the_daemon_down_and_up(tmp_path):
    from tests.sync.simproc import BureauSim

    bureau = BureauSim(tmp_path / "bureau").start()
    try:
        data = tmp_path / "data"
        env = env_for(tmp_path, KIOSK_CONFIG=str(bureau.kiosk_config(data)))
        status = "kiosk sync status [--json]"
        res = kiosk("sync", "status", env=env)
        expect(status, res, 3)
        assert "sync daemon not running" in res.stdout and not (data / "outbox.db").exists()

        def up_and_moving() -> None:
            res = kiosk("sync", "status", "--json", env=env)
            expect(status, res, 0)
            assert json.loads(res.stdout)["daemon_running"] is True

        stopped("kiosk sync run", run_until_ready_then_sigterm(["sync", "run"], env, up_and_moving))
        _dead_letter(data)
        expect(status, kiosk("sync", "status", env=env), 3)  # down is said before stuck

        def up_and_stuck() -> None:
            res = kiosk("sync", "status", env=env)
            expect(status, res, 4)
            assert "stuck; 1 dead-lettered" in res.stdout
            res = kiosk("sync", "retry-dead", env=env)
            expect("kiosk sync retry-dead", res, 0)
            assert res.stdout.startswith("1 dead-lettered submission(s) back in the queue")

        stopped("kiosk sync run", run_until_ready_then_sigterm(["sync", "run"], env, up_and_stuck))
    finally:
        bureau.stop()


def test_a_queue_waiting_longer_than_the_threshold_is_stuck():
    from kiosk.cli.sync import stuck_reasons

    st = {"dead": 0, "oldest_pending_age_s": 7300.0}
    assert stuck_reasons(st, 3600.0) == ["oldest pending waited 2 h 1 min (more than 1 h 0 min)"]
    assert stuck_reasons({**st, "oldest_pending_age_s": 60.0}, 3600.0) == []


# --- the printer, against its simulator -------------------------------------------------------

def test_printer_commands_on_the_simulator(tmp_path):
    from simulators.printer import PrinterSimulator

    with PrinterSimulator(port=0, out_dir=tmp_path / "printer", width_dots=384, idle_timeout=5) as sim:
        env = env_for(tmp_path, KIOSK_PRINTER=f"tcp:127.0.0.1:{sim.port}")
        res = kiosk("printer", "status", env=env)
        expect("kiosk printer status [--json]", res, 0)
        assert "ready     yes" in res.stdout
        res = kiosk("printer", "test", env=env)
        expect("kiosk printer test", res, 0)
        assert "zh_CN     printed" in res.stdout and "en        printed" in res.stdout
        zh, en = sim.wait_for_receipts(2)
        assert "打印机测试" in zh.text and "Printer test" in en.text
        sim.set_state("paper_out")
        res = kiosk("printer", "status", "--json", env=env)
        expect("kiosk printer status [--json]", res, 1)
        assert json.loads(res.stdout)["paper"] == "out"
        expect("kiosk printer test", kiosk("printer", "test", env=env), 1)


# --- liveness: slow commands start together at the beginning and are read at the end ----------

SLOW = {"genuine": ["liveness", "check", "--camera", "synthetic"],
        "eval": ["liveness", "eval", "--trials", "1"]}


@pytest.fixture(scope="module")
def slow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[dict[str, subprocess.Popen[str]]]:
    env = env_for(tmp_path_factory.mktemp("slow"))
    procs = {name: subprocess.Popen([KIOSK, *args], env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE) for name, args in SLOW.items()}
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module", autouse=True)
def start_slow_early(request: pytest.FixtureRequest) -> None:
    """Started before the first test of this file when any liveness test was selected."""
    if any("slow" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("slow")


def finished(proc: subprocess.Popen[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_liveness_check_refuses_a_still_photo(tmp_path):
    res = kiosk("liveness", "check", "--camera", "synthetic:still,realtime=0", env=env_for(tmp_path))
    expect("kiosk liveness check --camera SPEC", res, 1)
    assert "result=spoof reason=still_photo" in res.stdout and "result=live" not in res.stdout


def test_liveness_check_explains_a_camera_it_cannot_use(tmp_path):
    env, usage = env_for(tmp_path), "kiosk liveness check --camera SPEC"
    res = kiosk("liveness", "check", "--camera", "webcam", env=env)
    expect(usage, res, 2)
    assert "unknown camera 'webcam'" in res.stderr
    res = kiosk("liveness", "check", "--camera", "none", env=env)
    expect(usage, res, 3)
    assert "camera unavailable" in res.stderr


def test_liveness_check_on_the_synthetic_camera_is_live(slow):
    res = finished(slow["genuine"])
    expect("kiosk liveness check --camera SPEC", res, 0)
    assert re.search(r"^result=live reason=- .* openings=3 captures=4", res.stdout, re.M), res.stdout


def test_liveness_eval_bounded(slow):
    res = finished(slow["eval"])
    expect("kiosk liveness eval [--trials N]", res, 0)
    assert "SYNTHETIC-ONLY" in res.stdout and "worst-case APCER: 0.0%" in res.stdout
    assert re.search(r"^genuine +2 +0 +0\.0%", res.stdout, re.M), res.stdout


# --- the technician PIN ----------------------------------------------------------------------

SET_PIN = "kiosk maintenance set-pin"


def test_set_pin_from_a_pipe(tmp_path):
    from kiosk import config
    from kiosk.services.maintenance import verify_pin

    env = env_for(tmp_path)
    res = kiosk("maintenance", "set-pin", env=env, input="246810\n")
    expect(SET_PIN, res, 0)
    assert "technician PIN saved" in res.stdout
    stored = config.load(None, environ=env)["maintenance.pin_hash"]
    assert verify_pin("246810", stored) and not verify_pin("246811", stored)
    expect(SET_PIN, kiosk("maintenance", "set-pin", env=env, input="246810\n135790\n"), 1)
    expect(SET_PIN, kiosk("maintenance", "set-pin", env=env, input="12\n"), 1)
    assert verify_pin("246810", config.load(None, environ=env)["maintenance.pin_hash"])


def test_set_pin_without_a_terminal_never_waits_forever(tmp_path):
    env = env_for(tmp_path, KIOSK_MAINTENANCE_PIN_STDIN_WAIT_S="1")
    res = kiosk("maintenance", "set-pin", env=env)  # stdin is /dev/null: nothing to read
    expect(SET_PIN, res, 4)
    assert "standard input is empty" in res.stderr
    silent = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE)  # a pipe that stays open
    try:
        res = kiosk("maintenance", "set-pin", env=env, stdin=silent.stdout, timeout=20)
    finally:
        silent.kill()
        silent.wait()
    expect(SET_PIN, res, 4)
    assert "no PIN on standard input within 1 s" in res.stderr


def test_set_pin_into_a_data_dir_it_cannot_write(tmp_path):
    # root writes anywhere, so drop to nobody as a technician's own account would be
    base = Path(tempfile.mkdtemp(prefix="ro-", dir="/tmp"))
    base.chmod(0o755)
    (base / "data").mkdir(mode=0o755)
    env = env_for(base, KIOSK_DATA_DIR=str(base / "data"))
    (base / "data").chmod(0o555)
    user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    res = kiosk("maintenance", "set-pin", env=env, input="246810\n", user=user)
    expect(SET_PIN, res, 3)
    assert res.stderr.strip() == f"kiosk: cannot write the provisioning store in {base / 'data'}: Permission denied"


# --- provisioning from a stick and the queue moved to a new card (docs/runbook-provisioning.md) --

PROVISION = "kiosk provision --from DIR [--config PATH]"
BUNDLE = ("kiosk provision bundle DIR --kiosk-id ID --bureau-url URL --kiosk-ca PEM --server-ca PEM "
          "--sealing-key PEM")
EXPORT, IMPORT = "kiosk queue export DIR [--config PATH]", "kiosk queue import DIR [--config PATH]"


def as_nobody(base: Path) -> list[str]:
    """Drop to nobody where the test runs as root (root writes anywhere), as in the set-pin test."""
    for path in (base, *base.parents):
        if path == Path("/tmp"):
            break
        path.chmod(path.stat().st_mode | 0o005)
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []


def test_provision_commands_on_the_bureau_simulators_files(tmp_path):
    from simulators.bureau import pki
    from tests.provisioning.helpers import sign_on_stick

    state, stick = tmp_path / "state", tmp_path / "stick"
    pki.ensure(state, ["KIOSK-0001"])
    files = ["--kiosk-id", "KIOSK-0042", "--bureau-url", "https://localhost:8443", "--kiosk-ca",
             str(state / "kiosk-ca.pem"), "--server-ca", str(state / "server-ca.pem"), "--sealing-key",
             str(state / "bureau-hpke-public.pem")]
    env = env_for(tmp_path)
    res = kiosk("provision", "bundle", str(stick), *files, env=env, input="123456\n")
    expect(BUNDLE, res, 1)
    assert "technician PIN refused" in res.stderr and not stick.exists()
    expect(BUNDLE, kiosk("provision", "bundle", str(stick), *files, env=env), 4)
    expect(BUNDLE, kiosk("provision", "bundle", str(stick), *files, env=env, input="270394\n"), 0)

    base = Path(tempfile.mkdtemp(prefix="ro-", dir="/tmp"))
    (base / "data").mkdir(mode=0o555)
    shutil.copytree(stick, base / "stick")  # a stick nobody may read
    res = kiosk("provision", "--from", str(base / "stick"),
                env=env_for(base, KIOSK_DATA_DIR=str(base / "data")), user=as_nobody(base))
    expect(PROVISION, res, 3)
    assert "cannot write the data directory" in res.stderr and "nothing changed" in res.stderr
    res = kiosk("provision", "--from", str(stick), env=env)
    expect(PROVISION, res, 5)
    assert "phase 1 done, not provisioned yet" in res.stdout and (stick / "kiosk.csr").exists()
    sign_on_stick(stick, state, common_name="KIOSK-0001")
    res = kiosk("provision", "--from", str(stick), env=env)
    expect(PROVISION, res, 1)
    assert "refused, nothing changed: kiosk.pem: made out to 'KIOSK-0001'" in res.stderr
    sign_on_stick(stick, state)
    res = kiosk("provision", "--from", str(stick), env=env)
    expect(PROVISION, res, 0)
    assert res.stdout.startswith("provisioned as KIOSK-0042")


def test_queue_export_and_import_commands(tmp_path):
    from kiosk.sync.outbox import Outbox

    class Opaque:
        def seal(self, payload: bytes, meta: Any) -> bytes:
            return b"sealed:" + meta.reference.encode()

    with Outbox(tmp_path / "data", "KIOSK-0001", Opaque(), min_free_mb=1) as outbox:
        outbox.enqueue("card_loss_report", {"card_number": "A00000001"})
    env, stick = env_for(tmp_path), tmp_path / "stick"
    expect(EXPORT, kiosk("queue", "export", str(stick), env=env), 1)  # no stick there
    stick.mkdir()
    res = kiosk("queue", "export", str(stick), env=env)
    expect(EXPORT, res, 0)
    assert res.stdout.startswith("1 unsent submission(s) of KIOSK-0001 exported")

    base = Path(tempfile.mkdtemp(prefix="ro-", dir="/tmp"))
    (base / "data").mkdir(mode=0o555)
    shutil.copytree(stick, base / "stick")
    res = kiosk("queue", "import", str(base / "stick"), env=env_for(base, KIOSK_DATA_DIR=str(base / "data")),
                user=as_nobody(base))
    expect(IMPORT, res, 3)
    new = env_for(tmp_path, KIOSK_DATA_DIR=str(tmp_path / "new"))
    res = kiosk("queue", "import", str(stick), env=new)
    expect(IMPORT, res, 0)
    assert res.stdout.startswith("1 of 1 submission(s) added")
    expect(IMPORT, kiosk("queue", "import", str(stick), env=new), 0)
    envelope = next((stick / "kiosk-queue-KIOSK-0001" / "envelopes").iterdir())
    envelope.write_bytes(envelope.read_bytes()[:-1])
    res = kiosk("queue", "import", str(stick), env=env_for(tmp_path, KIOSK_DATA_DIR=str(tmp_path / "third")))
    expect(IMPORT, res, 1)
    assert "refused, nothing imported" in res.stderr


# --- service procedures: logs and updates from a stick -----------------------------------------

LOGS_EXPORT = "kiosk logs export --to DIR [--since WHEN] [--journal-dir DIR]"
LOGS_VERIFY = "kiosk logs verify DIR --cert PEM"


def test_logs_export_and_verify_commands(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.test_log_export import certificate, fake_journalctl

    fake_journalctl(tmp_path / "bin", tmp_path / "args", ['{"MESSAGE": "event=started id=110105195803120029"}'])
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "kiosk.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "kiosk.pem").write_bytes(certificate(key, "KIOSK-0001"))
    stick = tmp_path / "stick"
    stick.mkdir()
    env = env_for(tmp_path, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    res = kiosk("logs", "export", "--to", str(stick), env=env)  # not provisioned: no key
    expect(LOGS_EXPORT, res, 4)
    assert "NOT signed" in res.stderr
    res = kiosk("logs", "export", "--to", str(stick), "--since=-7d",
                env={**env, "KIOSK_SYNC_KEY_FILE": str(tmp_path / "kiosk.key")})
    expect(LOGS_EXPORT, res, 0)
    assert "--since=-7d" in (tmp_path / "args").read_text().split()
    folder = Path(res.stdout.split(" written to ")[1].split()[0])
    assert "110105195803120029" not in (folder / "journal.jsonl").read_text()
    res = kiosk("logs", "verify", str(folder), "--cert", str(tmp_path / "kiosk.pem"), env=env)
    expect(LOGS_VERIFY, res, 0)
    (folder / "audit.txt").write_text("nothing happened\n")
    res = kiosk("logs", "verify", str(folder), "--cert", str(tmp_path / "kiosk.pem"), env=env)
    expect(LOGS_VERIFY, res, 1)
    assert "audit.txt: does not match its checksum" in res.stderr


def test_update_install_command(tmp_path):
    from tests.test_update_install import fake_rauc

    usage, stick = "kiosk update install --from DIR", tmp_path / "stick"
    (tmp_path / "bin").mkdir()
    stick.mkdir()
    (stick / "kiosk-1.4.0.raucb").write_bytes(b"hsqs bundle")
    res = kiosk("update", "install", "--from", str(stick), env=env_for(tmp_path, PATH=str(tmp_path / "bin")))
    expect(usage, res, 3)
    record = fake_rauc(stick)
    res = kiosk("update", "install", "--from", str(stick), env=env_for(tmp_path, PATH=str(tmp_path / "bin")))
    expect(usage, res, 0)
    assert record.read_text().split() == ["install", str(stick / "kiosk-1.4.0.raucb")]


def test_stick_run_command(tmp_path):
    """The maintenance menu's root helper: the outcome left in the data directory for the menu."""
    usage, stick = "kiosk stick run TASK", tmp_path / "stick"
    env = env_for(tmp_path, KIOSK_MAINTENANCE_STICK_DIR=str(stick))
    stick.mkdir()
    res = kiosk("stick", "run", "queue-export", env=env)  # a folder, not a mounted stick: never written
    expect(usage, res, 1)
    assert not list(stick.iterdir())
    env["KIOSK_GPIO"] = "mock"  # simulated devices: any folder stands in for the stick
    stick.rmdir()
    res = kiosk("stick", "run", "queue-export", env=env)
    expect(usage, res, 1)
    outcome = json.loads((tmp_path / "data" / "stick" / "queue-export.json").read_text())
    assert (outcome["key"], outcome["ok"]) == ("no_stick", False)
    stick.mkdir()
    expect(usage, kiosk("stick", "run", "queue-export", env=env), 0)
    outcome = json.loads((tmp_path / "data" / "stick" / "queue-export.json").read_text())
    assert (outcome["key"], outcome["fields"]["n"]) == ("queue_empty", 0)
    assert (stick / "kiosk-queue-KIOSK-0001" / "manifest.json").is_file()


# --- the card reader, on the card stack (pcscd + vpcd + the card emulator) ---------------------

CARD_INFO = "kiosk card info [--json] [--unmasked]"


@pytest.fixture
def stack(card_stack: Stack) -> Iterator[Stack]:
    if card_stack.pcscd is None:  # an earlier test stopped pcscd and failed before restarting it
        card_stack.start_pcscd()
    card_stack.ctl("RESET-STATE")
    yield card_stack


def card_env(tmp: Path, **extra: str) -> dict[str, str]:
    return env_for(tmp, **{"KIOSK_READER": "sim", "KIOSK_CARD_READER_NAME": CARD_READER,
                           "KIOSK_CARD_PSAM_READER_NAME": PSAM_READER, **extra})


def test_card_info_reads_a_valid_card_masked(stack, tmp_path):
    stack.insert("activated")
    res = kiosk("card", "info", "--json", "--wait", "5", env=card_env(tmp_path))
    expect(CARD_INFO, res, 0)
    info = json.loads(res.stdout)
    assert info["id_number"] == "1101**********0029" and info["expired"] is False
    res = kiosk("card", "info", "--unmasked", "--wait", "5", env=card_env(tmp_path))
    expect(CARD_INFO, res, 0)
    assert "id_number: 110105195803120029" in res.stdout and "EXPIRED" not in res.stdout


def test_card_info_marks_an_expired_card(stack, tmp_path):
    stack.insert("expired")
    res = kiosk("card", "info", "--wait", "5", env=card_env(tmp_path))
    expect(CARD_INFO, res, 5)
    assert "EXPIRED on 2022-04-01" in res.stdout and "expiry_date: 2022-04-01" in res.stdout


def test_card_info_blames_the_card_the_reader_or_pcscd(stack, tmp_path):
    stack.insert("bank_only")
    res = kiosk("card", "info", "--wait", "5", env=card_env(tmp_path))
    expect(CARD_INFO, res, 3)
    assert "not a readable social security card: BankOnlyCard" in res.stderr
    from kiosk.hw.reader_pcsc import PcscReader

    with PcscReader(CARD_READER) as reader:
        stack.remove(reader)  # and wait until pcscd has seen it go
    res = kiosk("card", "info", "--wait", "0.5", env=card_env(tmp_path))
    expect(CARD_INFO, res, 4)
    assert "no card inserted within 0.5 s" in res.stderr
    res = kiosk("card", "info", "--wait", "1", env=card_env(tmp_path, KIOSK_CARD_READER_NAME="Nowhere 99"))
    expect(CARD_INFO, res, 6)
    assert "card reader not connected or not found" in res.stderr
    expect(CARD_INFO, kiosk("card", "info", env=card_env(tmp_path, KIOSK_READER="none")), 6)
    stack.insert("activated")
    stack.stop_pcscd()
    try:
        res = kiosk("card", "info", "--wait", "1", env=card_env(tmp_path))
    finally:
        stack.start_pcscd()
        deadline = time.monotonic() + 10  # both slots back on vpcd before the next test
        while "connected=1 psam=1" not in stack.ctl("STATUS") and time.monotonic() < deadline:
            time.sleep(0.05)
    expect(CARD_INFO, res, 7)
    assert "pcscd is not running" in res.stderr and "card" not in res.stderr.split("pcscd")[0]


# --- the resident ID card reader, on its simulator (a pseudo-terminal, as /dev/ttyUSB0 would be) --

IDCARD_INFO = "kiosk idcard info [--json] [--unmasked]"


@pytest.fixture
def idcard_sim() -> Iterator[tuple[str, Any]]:
    """`python -m simulators.idcard` in its own process: (its device, a control-line sender)."""
    proc = subprocess.Popen([sys.executable, "-m", "simulators.idcard"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = proc.stdout.readline().split()  # type: ignore[union-attr]
        assert ready and ready[0] == "ready", proc.stderr.read()  # type: ignore[union-attr]
        fields = dict(item.split("=", 1) for item in ready[1:])
        conn = socket.create_connection(("127.0.0.1", int(fields["control_port"])), timeout=10)
        ctl = conn.makefile("rw")

        def control(line: str) -> str:
            ctl.write(line + "\n")
            ctl.flush()
            return ctl.readline().strip()

        yield fields["device"], control
        conn.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_idcard_info_reads_a_card_masked_and_unmasked(idcard_sim, tmp_path):
    device, control = idcard_sim
    env = env_for(tmp_path, KIOSK_IDCARD=f"serial:{device}")
    assert control("INSERT wang").startswith("OK")
    res = kiosk("idcard", "info", "--json", "--wait", "5", env=env)
    expect(IDCARD_INFO, res, 0)
    info = json.loads(res.stdout)
    assert info["id_number"] == "1101**********0029" and info["name"] == "王*英" and info["valid_until"] == "长期"
    assert control("INSERT chen_rare").startswith("OK")
    res = kiosk("idcard", "info", "--unmasked", "--wait", "5", env=env)
    expect(IDCARD_INFO, res, 0)
    assert "id_number: 310104198807230027" in res.stdout and "name: 陈<U+E40C>" in res.stdout


def test_idcard_info_blames_the_card_the_wait_or_the_reader(idcard_sim, tmp_path):
    device, control = idcard_sim
    env = env_for(tmp_path, KIOSK_IDCARD=f"serial:{device}")
    control("INSERT liu_expired")
    res = kiosk("idcard", "info", "--wait", "5", env=env)
    expect(IDCARD_INFO, res, 5)
    assert "EXPIRED on 2020-02-14" in res.stdout
    control("INSERT bad_check")
    res = kiosk("idcard", "info", "--wait", "5", env=env)
    expect(IDCARD_INFO, res, 3)
    assert "the ID card could not be read" in res.stderr and "110105195803120028" not in res.stderr
    control("REMOVE")
    res = kiosk("idcard", "info", "--wait", "0.5", env=env)
    expect(IDCARD_INFO, res, 4)
    assert "no ID card placed within 0.5 s" in res.stderr
    control("SAM missing")
    expect(IDCARD_INFO, kiosk("idcard", "info", "--wait", "1", env=env), 6)
    expect(IDCARD_INFO, kiosk("idcard", "info", env=env_for(tmp_path)), 6)  # none configured


# --- each simulator on its own ----------------------------------------------------------------

def readme_simulators() -> list[str]:
    section = readme_section("Simulators")
    return sorted(set(re.findall(r"`(simulators\.[a-z_]+)`", section)) | {"simulators.launch"})


@pytest.mark.parametrize("module", readme_simulators())
def test_simulator_help(module, tmp_path):
    env = env_for(tmp_path)
    res = subprocess.run([sys.executable, "-m", module, "--help"], env=env, capture_output=True, text=True, check=False,
                         timeout=60, cwd=ROOT)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert res.stdout.startswith(f"usage: python -m {module} ") and "--help" in res.stdout
