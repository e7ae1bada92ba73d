"""The maintenance menu's diagnostics against the simulators: card reader over PC/SC (and pcscd
going away), the printer over TCP (and out of paper), the synthetic camera with the face detector,
the sync queue with a dead-lettered submission retried, the bureau's certificates."""

from __future__ import annotations

import time

import pytest

from kiosk import config, provisioning
from kiosk.services.maintenance import hash_pin

PIN = "97531864"


@pytest.fixture
def tech(make_kiosk, sims):
    provisioning.write(config.Path(sims.env["KIOSK_DATA_DIR"]), "maintenance.pin_hash", hash_pin(PIN))
    k = make_kiosk("en")
    door = k.ui.gpio.factory.pin(k.cfg["gpio.service_door"])
    door.drive_high()
    k.screen("tech_pin")
    k.type(PIN)
    k.tap("confirm")
    k.screen("maintenance")
    yield k
    door.drive_low()


def act(k, page, action, until=lambda k: True, timeout=20):
    k.tap(f"nav-{page}")
    k.tap(f"act-{action}")
    k.until(lambda: not k.ui.workers.pending() and until(k), timeout, f"{page}/{action}")
    k.clock.advance(1.1)  # the page refreshes its live rows once a second
    k.frame()
    return {r.label: r for r in k.ui.screen.page.rows}


def test_reader_page_reads_the_card_masked_and_sees_pcscd_go(tech, sims):
    sims.card.ctl("INSERT activated")
    time.sleep(1)
    rows = act(tech, "reader", "read_card")
    result = rows["diag.last_result"].value
    assert "1101**********0029" in result and "110105195803120029" not in result and "王*英" in result
    tech.shot("maint-reader")
    sims.card.stop_pcscd()
    try:
        tech.until(lambda: tech.kiosk.health.refresh()["reader"].reason == "health.reader.pcscd_down", 20, "pcscd down")
        tech.clock.advance(1.1)
        tech.frame()
        rows = {r.label: r for r in tech.ui.screen.page.rows}
        assert rows["diag.health"].state == "bad" and "pcscd_down" in rows["diag.health"].value
        tech.shot("maint-reader-pcscd-down")
    finally:
        sims.card.start_pcscd()
    tech.until(lambda: tech.kiosk.health.refresh()["reader"].usable, 30, "reader back")


def test_printer_page_prints_a_test_receipt_and_shows_paper_out(tech, sims):
    before = len(sims.printer.receipts)
    rows = act(tech, "printer", "print_test", timeout=40)
    assert len(sims.printer.receipts) >= before + 2  # one receipt per language
    assert rows["diag.last_result"].value.startswith("printed")
    sims.printer.set_state("paper_out")
    try:
        tech.until(lambda: tech.kiosk.health.refresh()["printer"].reason == "health.printer.paper_out", 20)
        tech.clock.advance(1.1)
        tech.frame()
        rows = {r.label: r for r in tech.ui.screen.page.rows}
        assert rows["diag.health"].state == "bad"
        tech.shot("maint-printer-paper-out")
    finally:
        sims.printer.set_state("ok")


def test_camera_page_shows_a_snapshot_with_the_face_found(tech):
    rows = act(tech, "camera", "camera_test", timeout=40)
    assert "1 face(s)" in rows["diag.last_result"].value
    assert tech.ui.screen.page.preview is not None
    tech.shot("maint-camera")


def test_queue_page_lists_a_dead_letter_and_retries_it(tech, sims):
    nobody = {"id_number": "11010519491231002X", "name": "无名"}
    sub = tech.ui.services.submit("card_activation", nobody, {"card_number": "Z99999999", "pin_action": "set_new_pin"})
    tech.until(lambda: tech.ui.services.outbox.outbox.status().dead >= 1, 30, "dead letter")
    tech.tap("nav-queue")
    tech.clock.advance(1.1)
    tech.frame()
    page = tech.ui.screen.page
    assert any(sub.reference in line for line in page.lines)
    assert "11010519491231002X" not in " ".join(page.lines)
    tech.shot("maint-queue-dead")
    rows = act(tech, "queue", "retry_dead")
    assert "back in the queue" in rows["diag.last_result"].value
    events = tech.ui.maintenance.audit.events()
    assert "maintenance_action" in events
    detail = [e.detail for e in tech.ui.maintenance.audit.recent(50) if e.event == "maintenance_action"]
    assert any("action=retry_dead" in d for d in detail)


def test_network_page_shows_certificate_expiry(tech):
    tech.tap("nav-network")
    rows = {r.label: r for r in tech.ui.screen.page.rows}
    assert rows["diag.net.cert_file"].value.startswith("expires")
    assert rows["diag.health"].state == "ok"
    tech.shot("maint-network")


def test_paper_near_end_alerts_staff_before_it_runs_out(make_kiosk, sims):
    from kiosk.services import receipts

    k = make_kiosk()
    sims.printer.set_state("paper_near_end")
    try:
        doc = receipts.printer_test(receipts.ReceiptContext.from_config(k.cfg, "zh_CN", __import__("datetime").datetime.now()),
                                    reference="KIOSK0001-T1", mode="gb18030", paper_mm=58)
        outcome = k.ui.services.printing.print_receipt(doc)
        assert outcome.printed  # near end still prints
        events = [(e.event, e.detail) for e in k.ui.maintenance.audit.recent(20)]
        assert any(ev == "staff_alert" and "paper_near_end" in d for ev, d in events), events
        assert k.ui.gpio.help_beacon._blink_thread is not None  # the slow consumables blink
    finally:
        sims.printer.set_state("ok")
