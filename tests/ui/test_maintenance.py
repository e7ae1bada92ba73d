"""The technician maintenance menu and the GPIO behaviour in service, on gpiozero's MockFactory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kiosk import config, provisioning
from kiosk.hw.health import DeviceHealth
from kiosk.services.maintenance import hash_pin, verify_pin
from tests.conftest import ARTIFACTS
from tests.ui.harness import make_harness

PIN = "246810"
SHOTS = ARTIFACTS / "maintenance"


@pytest.fixture
def h(tmp_path):
    provisioning.write(tmp_path / "data", "maintenance.pin_hash", hash_pin(PIN))
    harness = make_harness(tmp_path)
    yield harness
    harness.close()


def settle(h):
    h.settle()


def corner_taps(h, n, spacing_s=0.3):
    for _ in range(n):
        h.ui.tap((20, 20))
        h.clock.advance(spacing_s)
        h.frame()


def enter_pin(h, pin=PIN):
    h.type(pin)
    h.tap_button("confirm")
    settle(h)


def shot(h, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    h.frame()
    h.ui.screenshot(str(SHOTS / f"{h.ui.lang}-{name}.png"))


def audit_events(h):
    return h.ui.maintenance.audit.events()


def test_pin_hash_is_scrypt_with_salt_and_verifies():
    a, b = hash_pin(PIN), hash_pin(PIN)
    assert a.startswith("scrypt$n=32768,r=8,p=1$") and a != b
    assert verify_pin(PIN, a) and not verify_pin("246811", a) and not verify_pin(PIN, "garbage")


def test_hidden_gesture_opens_the_pin_prompt_and_the_right_pin_the_menu(h):
    corner_taps(h, 4)
    assert h.ui.screen.name == "home"
    corner_taps(h, 1)
    assert h.ui.screen.name == "tech_pin"
    shot(h, "pin-prompt")
    enter_pin(h)
    assert h.ui.screen.name == "maintenance"
    assert audit_events(h)[-3:] == ["maintenance_request", "maintenance_enter", "maintenance_page"][:2] + \
        audit_events(h)[-1:] or "maintenance_enter" in audit_events(h)


def test_slow_taps_do_not_open_it(h):
    corner_taps(h, 5, spacing_s=1.0)
    assert h.ui.screen.name == "home"


class Clocks:
    """The lockout's time, moved by the test: monotonic seconds, wall seconds, this boot's id."""

    def __init__(self) -> None:
        self.mono, self.wall, self.boot = 5_000.0, 1_000_000.0, "boot-1"

    def attach(self, access) -> None:
        access.monotonic = lambda: self.mono
        access.wall = lambda: self.wall
        access.boot_id = lambda: self.boot


def lock_out(h) -> None:
    corner_taps(h, 5)
    for _ in range(5):
        enter_pin(h, "111111")
    assert h.ui.screen.message == "tech.pin_locked"


def test_wrong_pins_lock_the_menu_and_the_lock_survives_a_restart(h, tmp_path):
    clocks = Clocks()
    clocks.attach(h.ui.maintenance.access)
    corner_taps(h, 5)
    for i in range(4):
        enter_pin(h, "111111")
        assert h.ui.screen.message == "tech.pin_wrong" and h.ui.screen.fields["n"] == 4 - i
    shot(h, "pin-wrong")
    enter_pin(h, "111111")
    assert h.ui.screen.message == "tech.pin_locked"
    shot(h, "pin-locked")
    enter_pin(h)  # even the right PIN is refused while locked
    assert h.ui.screen.name == "tech_pin" and h.ui.screen.message == "tech.pin_locked"
    # A UI restart within the same boot: a fresh access object on the same audit file.
    from kiosk.services.maintenance import MaintenanceAccess
    again = MaintenanceAccess(h.ui.maintenance.audit, lambda: hash_pin(PIN), 5,
                              h.cfg["maintenance.lockout_s"], 60)
    clocks.attach(again)
    assert again.try_pin(PIN).result.value == "locked"
    clocks.mono += h.cfg["maintenance.lockout_s"] + 1
    enter_pin(h)
    assert h.ui.screen.name == "maintenance"
    events = audit_events(h)
    assert events.count("maintenance_pin_wrong") == 4 and "maintenance_locked" in events
    assert events.count("maintenance_pin_refused") == 2


def test_moving_the_wall_clock_does_not_shorten_the_lockout(h):
    """GIVEN the menu locked WHEN the wall clock jumps a day forward (a lying NTP source, a
    technician's `date -s`) THEN it stays locked: the lockout runs on monotonic time."""
    clocks = Clocks()
    access = h.ui.maintenance.access
    clocks.attach(access)
    lock_out(h)
    clocks.wall += 86_400
    outcome = access.try_pin(PIN)
    print("after the wall clock moved a day:", outcome)
    assert outcome.result.value == "locked"
    assert outcome.locked_for_s == h.cfg["maintenance.lockout_s"]
    clocks.mono += h.cfg["maintenance.lockout_s"] + 1
    assert access.try_pin(PIN).result.value == "ok"


def test_after_a_reboot_the_lockout_starts_again_in_full(h):
    """GIVEN the menu locked, all but 10 s of the lockout served WHEN the kiosk reboots (a new
    boot id, the monotonic clock starts again near zero; the wall clock as fake-hwclock left it)
    THEN the lockout starts again in full: pulling the plug is no way round it."""
    from kiosk.services.maintenance import MaintenanceAccess

    clocks = Clocks()
    clocks.attach(h.ui.maintenance.access)
    lock_out(h)
    lockout_s = h.cfg["maintenance.lockout_s"]
    clocks.mono += lockout_s - 10
    clocks.wall += lockout_s - 10
    clocks.boot, clocks.mono = "boot-2", 12.0
    after = MaintenanceAccess(h.ui.maintenance.audit, lambda: hash_pin(PIN), 5, lockout_s, 60)
    clocks.attach(after)
    outcome = after.try_pin(PIN)
    print("after a reboot:", outcome)
    assert outcome.result.value == "locked" and outcome.locked_for_s == lockout_s
    clocks.mono += lockout_s - 1
    assert after.try_pin(PIN).result.value == "locked"
    clocks.mono += 2
    assert after.try_pin(PIN).result.value == "ok"


def test_service_door_opens_the_prompt_closing_it_leaves_the_menu(h):
    door = h.devices.gpio.factory.pin(h.cfg["gpio.service_door"])
    door.drive_high()
    h.frame()
    assert h.ui.screen.name == "tech_pin"
    enter_pin(h)
    assert h.ui.screen.name == "maintenance"
    door.drive_low()
    h.frame()
    assert h.ui.screen.name == "home"
    assert {"door_opened", "maintenance_enter", "door_closed", "maintenance_exit"} <= set(audit_events(h))


def test_door_open_without_a_pin_raises_a_tamper_alert(h):
    door = h.devices.gpio.factory.pin(h.cfg["gpio.service_door"])
    door.drive_high()
    h.frame()
    h.clock.advance(h.cfg["maintenance.tamper_s"] - 1)
    h.frame()
    assert not h.ui.maintenance.access.tamper
    h.clock.advance(2)
    h.frame()
    assert h.ui.maintenance.access.tamper and h.devices.gpio.tamper
    assert audit_events(h).count("tamper_alert") == 1
    h.frame()
    assert audit_events(h).count("tamper_alert") == 1  # raised once


def test_menu_closes_itself_after_inactivity(h):
    corner_taps(h, 5)
    enter_pin(h)
    h.clock.advance(h.cfg["maintenance.idle_s"] + 1)
    h.frame()
    assert h.ui.screen.name == "home"
    assert audit_events(h)[-1] == "maintenance_exit"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_page_renders_and_is_saved(tmp_path, lang):
    provisioning.write(tmp_path / "data", "maintenance.pin_hash", hash_pin(PIN))
    h = make_harness(tmp_path, lang=lang)
    try:
        h.ui.sessions.default_language = lang
        h.set_health("printer", DeviceHealth.offline("health.printer.paper_out", "DLE EOT 4 = 0x7E"))
        corner_taps(h, 5)
        enter_pin(h)
        from kiosk.services.diagnostics import PAGES

        for page in PAGES:
            h.tap_button(f"nav-{page}")
            assert h.ui.screen.page_id == page
            shot(h, f"page-{page}")
            tr = h.ui.translators[lang]
            assert not tr.missing, f"{page}: missing {tr.missing}"
        h.tap_button("nav-printer")
        rows = {r.label: r for r in h.ui.screen.page.rows}
        assert rows["diag.health"].state == "bad" and "paper_out" in rows["diag.health"].value
    finally:
        h.close()


def test_gpio_page_toggles_outputs_and_shows_inputs_live(h):
    corner_taps(h, 5)
    enter_pin(h)
    h.tap_button("nav-gpio")
    beacon = h.devices.gpio.factory.pin(h.cfg["gpio.help_beacon"])
    assert beacon.state == 0
    h.tap_button("act-toggle_help_beacon")
    settle(h)
    assert beacon.state == 1
    h.devices.gpio.factory.pin(h.cfg["gpio.presence_sensor"]).drive_high()
    h.clock.advance(1.1)
    h.frame()
    rows = {r.label: r.value for r in h.ui.screen.page.rows}
    assert rows["diag.gpio.presence_sensor"].startswith("someone")
    assert rows["diag.gpio.help_beacon"].startswith("on")
    assert "maintenance_action" in audit_events(h)


def test_a_settings_change_is_saved_and_takes_effect(h):
    corner_taps(h, 5)
    enter_pin(h)
    h.tap_button("nav-settings")
    shot(h, "settings")
    h.ui.screen.settings.find("session.inactivity_s")
    h.tap_button("set-session.inactivity_s")
    h.tap_button("kb-clear")
    for ch in "45":
        h.tap_button(f"kb-{ch}")
    shot(h, "settings-edit")
    h.tap_button("settings-save")
    assert h.ui.sessions.inactivity_s == 45.0
    saved = config.load(None, environ={"KIOSK_DATA_DIR": str(h.cfg.data_dir)})
    assert saved["session.inactivity_s"] == 45.0 and saved.sources["session.inactivity_s"] == "technician"
    h.ui.screen.settings.find("ui.language")
    h.tap_button("set-ui.language")
    h.tap_button("opt-en")
    h.tap_button("settings-save")
    assert h.ui.sessions.default_language == "en"
    # A bad value is refused with the reason and changes nothing.
    h.ui.screen.settings.find("session.countdown_s")
    h.tap_button("set-session.countdown_s")
    h.tap_button("kb-clear")
    h.tap_button("kb-1")
    h.tap_button("settings-save")
    assert h.ui.screen.settings.message == "settings.error"
    assert h.ui.sessions.countdown_s == h.cfg["session.countdown_s"]
    shot(h, "settings-error")
    events = audit_events(h)
    assert events.count("setting_changed") == 2 and "setting_refused" in events


def test_power_actions_need_confirmation(h):
    corner_taps(h, 5)
    enter_pin(h)
    h.tap_button("nav-power")
    h.tap_button("act-reboot")
    shot(h, "power-confirm")
    h.tap_button("confirm-no")
    assert h.ui.maintenance.diagnostics.power.requests == []
    h.tap_button("act-reboot")
    h.tap_button("confirm-yes")
    settle(h)
    assert h.ui.maintenance.diagnostics.power.requests == ["reboot"]
    assert "maintenance_action_cancelled" in audit_events(h)


def test_status_led_follows_the_kiosk_state(h):
    gpio = h.devices.gpio
    assert gpio.status == "ready"
    h.tap_button("tile-pension_auth")
    assert gpio.status == "busy"
    h.tap_button("home")
    assert gpio.status == "ready"
    h.set_health("bureau", DeviceHealth.offline("health.bureau.unreachable"))
    assert gpio.status == "offline"
    for name in ("reader", "camera"):
        h.set_health(name, DeviceHealth.offline(f"health.{name}.offline"))
    assert gpio.status == "fault"


def test_idle_home_dims_and_presence_wakes_it(h):
    h.clock.advance(h.cfg["ui.dim_after_s"] + 1)
    h.frame()
    assert h.ui.dimmed
    shot(h, "idle-dimmed")
    presence = h.devices.gpio.factory.pin(h.cfg["gpio.presence_sensor"])
    presence.drive_high()
    h.frame()
    assert not h.ui.dimmed
    presence.drive_low()
    h.clock.advance(h.cfg["ui.dim_after_s"] + 1)
    h.frame()
    assert h.ui.dimmed
    h.ui.tap((900, 500))  # a touch wakes it and does nothing else
    h.frame()
    assert not h.ui.dimmed and h.ui.screen.name == "home"


def test_audit_log_is_append_only(h):
    import sqlite3

    h.ui.maintenance.audit.append("x", a=1)
    db = sqlite3.connect(h.ui.maintenance.audit.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET event = 'y'")


def test_set_pin_command_writes_a_hash_to_the_provisioning_store(tmp_path):
    env = dict(os.environ, KIOSK_DATA_DIR=str(tmp_path))
    run = lambda text: subprocess.run([sys.executable, "-m", "kiosk", "maintenance", "set-pin", "--stdin"],  # noqa: E731
                                      input=text, capture_output=True, text=True, env=env, timeout=60)
    assert run("123456\n654321\n").returncode == 1
    assert run("12\n12\n").returncode == 1
    res = run("13572468\n13572468\n")
    assert res.returncode == 0, res.stderr
    cfg = config.load(None, environ={"KIOSK_DATA_DIR": str(tmp_path)})
    assert verify_pin("13572468", cfg["maintenance.pin_hash"])
    stored = provisioning.item_path(tmp_path, "maintenance.pin_hash")
    assert cfg.sources["maintenance.pin_hash"] == "provisioning" and "13572468" not in stored.read_text()
    assert not (tmp_path / config.TECHNICIAN_LAYER_FILE).exists()
