"""Provisioning from the USB stick without a shell (issue 17 #4): an unprovisioned kiosk is out of
service and its page tells the technician what to do next, in both languages, as the stick's
provisioning goes: put the stick in; the request is on the stick, take it to the desk; set up as
KIOSK-0042 (the kiosk then leaves out-of-service); or why the stick was refused, with nothing
changed. A directory stands in for the stick (devices.gpio = mock: the page starts the task, as
the stick's mount unit does on the appliance; that unit's script is run in bash below). The
bureau's side is the bureau simulator's CA (simulators/bureau/pki.py) and tests/provisioning's
signing helpers. Screenshots: out/test-artifacts/provisioning/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kiosk import cli, provisioning
from kiosk.provision import bundle, install
from kiosk.screens.home import HomeScreen
from kiosk.screens.maintenance import MaintenanceScreen
from kiosk.screens.system import OutOfServiceScreen
from kiosk.services import stick_provision
from kiosk.services.maintenance import verify_pin
from simulators.bureau import pki
from tests.conftest import ARTIFACTS
from tests.provisioning.helpers import GOOD_PIN, load_ca, sign_on_stick, sign_request, snapshot
from tests.ui.harness import make_harness
from tests.ui.test_rendered_text import layout_problems, problems

KIOSK_ID = "KIOSK-0042"
BUREAU_URL = "https://bureau.example.org:8443"
SHOTS = ARTIFACTS / "provisioning"
SCRIPT = Path(__file__).resolve().parents[2] / "systemd/stick/kiosk-stick"


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """The bureau simulator's CAs and sealing key, as `python -m simulators.bureau` makes them."""
    path = tmp_path_factory.mktemp("bureau")
    pki.ensure(path, ["KIOSK-0001"])
    return path


def make_bundle(stick: Path, state: Path) -> None:
    bundle.make(stick, kiosk_id=KIOSK_ID, bureau_url=BUREAU_URL, kiosk_ca=(state / "kiosk-ca.pem").read_bytes(),
                server_ca=(state / "server-ca.pem").read_bytes(),
                sealing_key=(state / "bureau-hpke-public.pem").read_bytes(), pin=GOOD_PIN)


class Kiosk:
    """An unprovisioned kiosk (no certificate anywhere) on the harness, and its USB port."""

    def __init__(self, tmp_path: Path, lang: str, size=(1920, 1080)) -> None:
        self.stick, self.away = tmp_path / "stick", tmp_path / "stick-at-the-desk"
        self.h = make_harness(tmp_path / "kiosk", size, lang, **{"sync.cert_file": str(tmp_path / "no-cert.pem"),
                                                                 "maintenance.stick_dir": str(self.stick)})
        self.data = Path(self.h.cfg["kiosk.data_dir"])
        self.lang = lang

    def insert(self) -> None:
        os.rename(self.away, self.stick)
        self.wait()

    def pull(self) -> None:
        os.rename(self.stick, self.away)
        self.wait()

    def wait(self) -> None:
        """A second or so passes: the page looks at the port and lets the task finish."""
        self.h.settle(300, each=lambda: self.h.clock.advance(1.1))

    def kept(self) -> dict:
        """What a refused stick must leave as it was: the store and the key waiting on the device."""
        return {**snapshot(provisioning.store_dir(self.data)), **snapshot(install.request_dir(self.data))}

    def says(self, key: str, name: str, **fields) -> None:
        """The page is out of service and draws `key` (in this language), readable: no text under
        the citizen floor, none cut, outside its box or over other text; saved as <name>.png."""
        h = self.h
        h.ui.text.rendered.clear()
        from kiosk.screens.text import TextLog

        h.ui.text.log = log = TextLog()
        h.frame()
        assert isinstance(h.ui.screen, OutOfServiceScreen), h.ui.screen.name
        words = h.ui.t(key, **fields)
        drawn = {t for t in h.ui.text.rendered if t.strip()}
        assert any(len(t) > 6 and t in words for t in drawn), f"{key!r} ({words!r}) not drawn: {sorted(drawn)}"
        assert not problems(drawn)
        measure = lambda text, size, bold: h.ui.text.font(size, bold).size(text)[0]  # noqa: E731
        assert not layout_problems(log, h.ui.theme, False, measure), layout_problems(log, h.ui.theme, False, measure)
        h.ui.text.log = None
        SHOTS.mkdir(parents=True, exist_ok=True)
        w, ht = h.ui.surface.get_size()
        h.ui.screenshot(str(SHOTS / f"{self.lang}-{w}x{ht}-oos-{name}.png"))


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_unprovisioned_kiosk_is_set_up_from_the_stick_and_comes_into_service(tmp_path, state, lang):
    """GIVEN a kiosk with no identity THEN it is out of service and asks for the setup stick;
    WHEN the bureau's stick goes in THEN the request is written to it and the page says take it
    to the desk; WHEN it comes back signed THEN the kiosk is KIOSK-0042, its PIN the bundle's,
    and home replaces the out-of-service page."""
    k = Kiosk(tmp_path, lang)
    try:
        assert k.h.ui.unprovisioned
        k.says("oos.provision.insert", "insert")
        make_bundle(k.away, state)
        k.insert()
        assert (k.stick / bundle.REQUEST).is_file() and (install.request_dir(k.data) / install.KEY).is_file()
        assert not provisioning.store_dir(k.data).exists()
        k.says("stick.result.requested", "requested", kiosk=KIOSK_ID)
        k.pull()  # to the desk: the page keeps saying what to do
        k.says("stick.result.requested", "requested-away", kiosk=KIOSK_ID)

        sign_on_stick(k.away, state)
        k.insert()
        cfg = k.h.ui.maintenance.cfg()
        assert (cfg["kiosk.id"], cfg["sync.bureau_url"]) == (KIOSK_ID, BUREAU_URL)
        assert cfg["sync.cert_file"] == str(provisioning.store_dir(k.data) / "kiosk.pem")
        assert verify_pin(GOOD_PIN, cfg["maintenance.pin_hash"])
        assert not k.h.ui.unprovisioned and isinstance(k.h.ui.screen, HomeScreen)
        assert {"provisioning_requested", "provisioned"} <= set(k.h.ui.maintenance.audit.events())
        # out of service again for another reason: the page still says how the stick went
        for name in ("reader", "camera", "bureau"):
            k.h.set_health(name, __import__("kiosk.hw.health", fromlist=["DeviceHealth"]).DeviceHealth.offline(
                f"health.{name}.offline"))
        k.says("stick.result.provisioned", "provisioned", kiosk=KIOSK_ID)
    finally:
        k.h.close()


@pytest.mark.parametrize("lang, size", [("en", (1280, 800)), ("zh_CN", (1080, 1920))])
def test_a_wrong_stick_is_refused_with_its_reason_and_nothing_changes(tmp_path, state, lang, size):
    """Signed by another CA than the bundle's, made out to another kiosk, a damaged file: each
    refused in words with what to do, the store and the waiting key as they were."""
    k = Kiosk(tmp_path, lang, size)
    try:
        make_bundle(k.away, state)
        k.insert()
        k.pull()
        csr = (k.away / bundle.REQUEST).read_bytes()
        before = k.kept()
        cases = [("wrong_ca", lambda: (k.away / "kiosk.pem").write_bytes(sign_request(csr, load_ca(state, "server-ca")))),
                 ("wrong_id", lambda: sign_on_stick(k.away, state, common_name="KIOSK-0099")),
                 ("damaged", lambda: (sign_on_stick(k.away, state), (k.away / "kiosk-ca.pem").write_bytes(
                     (k.away / "kiosk-ca.pem").read_bytes() + b"\n")))]
        for kind, spoil in cases:
            spoil()
            k.insert()
            out = k.h.ui.provisioning.last()
            assert (out.key, out.ok) == (f"refused_{kind}", False), out
            k.says(f"stick.result.refused_{kind}", f"refused-{kind}", kiosk=KIOSK_ID)
            assert k.kept() == before and k.h.ui.unprovisioned
            k.pull()
            k.h.frame()
    finally:
        k.h.close()


@pytest.mark.parametrize("lang, size", [("en", (1280, 800)), ("zh_CN", (1080, 1920))])
def test_the_longest_answer_fits_in_large_text(tmp_path, lang, size):
    """Care mode (large text, the kiosk's default at some sites): the longest refusal still
    fits at the care floor; the technical line gives way when there is no room for it."""
    k = Kiosk(tmp_path, lang, size)
    try:
        k.h.ui.sessions.default_care_mode = True
        k.h.ui.go_home()
        k.h.ui._layout()
        stick_provision.write_result(k.data, stick_provision.Outcome(
            "provision-first", "refused_wrong_key", False, "refused, nothing changed: kiosk.pem: made for another "
            "key, not this kiosk's request (an older request, or another kiosk's certificate)", {"kiosk": KIOSK_ID}))
        assert k.h.ui.sessions.care_mode
        k.says("stick.result.refused_wrong_key", "care-refused-wrong_key", kiosk=KIOSK_ID)
    finally:
        k.h.close()


def test_a_provisioned_kiosk_never_provisions_from_a_stick_by_itself(tmp_path, state):
    """A stick with a bundle in a kiosk in service: nothing starts; the first-boot task, started
    all the same, refuses and writes nothing (not even the request)."""
    stick = tmp_path / "stick"
    make_bundle(stick, state)
    h = make_harness(tmp_path / "kiosk", (1280, 800), "en", **{"maintenance.stick_dir": str(stick)})
    try:
        for _ in range(3):
            h.clock.advance(1.1)
            h.frame()
        assert not h.ui.workers.pending() and isinstance(h.ui.screen, HomeScreen)
        data = Path(h.cfg["kiosk.data_dir"])
        out = stick_provision.provision_task("provision-first", h.ui.maintenance.cfg(), data, stick)
        assert out.key == "already_provisioned" and not out.ok
        assert not (stick / bundle.REQUEST).exists() and not install.request_dir(data).exists()
    finally:
        h.close()


def test_the_menu_provisions_again_behind_the_pin(tmp_path, state):
    """A provisioned kiosk's menu: 'Provision from stick' (confirmed) runs both phases, as
    `kiosk provision --from` does, and asks for the units' restart."""
    stick = tmp_path / "stick"
    make_bundle(stick, state)
    h = make_harness(tmp_path / "kiosk", lang="en", **{"maintenance.stick_dir": str(stick)})
    try:
        h.ui.show(MaintenanceScreen(h.ui, "gesture", page="stick"))
        h.frame()

        def tap():
            h.tap_button("act-provision")
            h.tap_button("confirm-yes")
            h.settle(300)
            return h.ui.screen.page

        assert tap().note == "stick.result.requested"
        sign_on_stick(stick, state)
        page = tap()
        assert page.note == "stick.result.provisioned" and page.note_fields == {"kiosk": KIOSK_ID}, page
        stick_page = h.ui.maintenance.diagnostics.stick
        assert stick_page.sim_requests == ["restart"]
        assert provisioning.read(Path(h.cfg["kiosk.data_dir"])).values["kiosk.id"] == KIOSK_ID
        SHOTS.mkdir(parents=True, exist_ok=True)
        h.ui.screenshot(str(SHOTS / "en-menu-provisioned.png"))
    finally:
        h.close()


def test_the_root_task_says_working_then_how_it_went(tmp_path, state, monkeypatch):
    """`kiosk stick run provision-first` (kiosk-stick-task@provision-first.service): phase 1's
    outcome left for the page, and on a provisioned kiosk a refusal with nothing written."""
    stick, data = tmp_path / "stick", tmp_path / "data"
    make_bundle(stick, state)
    for name, value in {"KIOSK_CONFIG": "/dev/null", "KIOSK_DATA_DIR": str(data), "KIOSK_GPIO": "mock",
                        "KIOSK_MAINTENANCE_STICK_DIR": str(stick)}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["stick", "run", "provision-first"]) == 0
    out = stick_provision.Outcome.from_json((data / "stick" / "provision-first.json").read_text())
    assert (out.key, out.fields) == ("requested", {"kiosk": KIOSK_ID})
    sign_on_stick(stick, state)
    assert cli.main(["stick", "run", "provision-first"]) == 0
    before = snapshot(data / "provisioning")
    assert cli.main(["stick", "run", "provision-first"]) == 1  # provisioned now: never again by itself
    out = stick_provision.Outcome.from_json((data / "stick" / "provision-first.json").read_text())
    assert out.key == "already_provisioned" and snapshot(data / "provisioning") == before


# ------------------------------------------------------------------ the stick's mount unit, in bash

def autostart(tmp_path: Path, *, mounted=True, provisioned=False, bundle_on_stick=True, systemctl_fails=False):
    """`kiosk-stick autostart` (ExecStartPost= of kiosk-stick@.service) with mountpoint and
    systemctl standing in: which units it starts, and its exit code."""
    stick, data, bin_dir, calls = tmp_path / "stick", tmp_path / "data", tmp_path / "bin", tmp_path / "calls"
    for d in (stick, data / "provisioning", bin_dir):
        d.mkdir(parents=True, exist_ok=True)
    if bundle_on_stick:
        (stick / "bundle.json").write_text("{}")
    if provisioned:
        (data / "provisioning" / "kiosk.pem").write_text("cert")
    (bin_dir / "mountpoint").write_text(f'#!/bin/bash\n[[ "$2" == "{stick}" ]] && exit {0 if mounted else 32}\nexit 32\n')
    (bin_dir / "systemctl").write_text(f'#!/bin/bash\necho "$*" >> "{calls}"\nexit {1 if systemctl_fails else 0}\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "KIOSK_STICK_DIR": str(stick), "KIOSK_DATA_DIR": str(data)}
    proc = subprocess.run(["bash", str(SCRIPT), "autostart"], env=env, capture_output=True, text=True, timeout=10)
    started = calls.read_text().splitlines() if calls.exists() else []
    calls.unlink(missing_ok=True)
    return proc.returncode, started


@pytest.mark.parametrize("case, starts", [
    ({}, True),
    ({"provisioned": True}, False),  # a kiosk in service: never by itself
    ({"bundle_on_stick": False}, False),  # any other stick
    ({"mounted": False}, False),  # nothing mounted there (the empty mount point)
])
def test_the_stick_unit_starts_provisioning_only_on_an_unprovisioned_kiosk(tmp_path, case, starts):
    code, started = autostart(tmp_path, **case)
    assert code == 0
    assert started == (["--no-block start kiosk-stick-task@provision-first.service"] if starts else [])


def test_the_stick_stays_mounted_when_the_task_cannot_start(tmp_path):
    code, started = autostart(tmp_path, systemctl_fails=True)
    assert code == 0 and started == ["--no-block start kiosk-stick-task@provision-first.service"]
    unit = (SCRIPT.parents[1] / "kiosk-stick@.service").read_text()
    assert "ExecStartPost=-/usr/lib/kiosk/kiosk-stick autostart" in unit
