"""PrintService against the simulator: failures become outcomes, staff are alerted in time."""

from __future__ import annotations

import socket

import zxingcpp
from escpos.printer import Dummy
from PIL import Image

from kiosk.hw.printer_escpos import emit, fit_profile
from kiosk.hw.registry import Unavailable
from kiosk.services.printing import PrintService, StaffAlert, reference_qr_matrix

from .conftest import ID_NUMBER, NAME, REF, every_kind, log_lines, make_config, service

DOC = every_kind("zh_CN")["pension_auth"]
STATUS_QUERY_BYTES = 9  # DLE EOT 1, 2 and 4 before the receipt


def control(sim, line: str) -> str:
    with socket.create_connection(("127.0.0.1", sim.control_port), timeout=5) as c:
        c.sendall(line.encode() + b"\n")
        return c.makefile().readline().strip()


def receipt_bytes(svc: PrintService) -> bytes:
    d = Dummy()
    fit_profile(d, svc.width_dots)
    emit(d, svc.ops(DOC))
    return d.output


def test_paper_out_before_printing(sim):
    """GIVEN no paper WHEN a receipt is printed THEN nothing reaches the paper, the outcome says
    why, the failure is logged for the maintenance menu and staff are alerted."""
    sim.set_state("paper_out")
    alerts: list[StaffAlert] = []
    svc = service(sim.port, alerts=alerts.append)
    with log_lines("kiosk.services.printing") as lines:
        outcome = svc.print_receipt(DOC)
    assert (outcome.printed, outcome.when, outcome.partial) == (False, "before", False)
    assert outcome.reason_key == "receipt.outcome.paper_out"
    assert outcome.device_reason == "health.printer.paper_out" and outcome.reference == REF
    assert sim.receipts == [] and sim.discarded_bytes == 0  # not even sent
    (failure,) = svc.recent_failures
    assert (failure.kind, failure.reason, failure.when) == (
        "pension_auth", "health.printer.paper_out", "before")
    assert [a.reason for a in alerts] == ["health.printer.paper_out"]
    (line,) = [x for x in lines if "receipt_not_printed" in x]
    assert line.startswith("event=receipt_not_printed kind=pension_auth mode=gb18030 "
                           "reason=health.printer.paper_out when=before detail=")
    assert NAME not in "\n".join(lines) and ID_NUMBER not in "\n".join(lines)


def test_paper_runs_out_during_printing(sim):
    """GIVEN paper that ends half-way through the receipt (simulator control channel) WHEN it
    prints THEN the outcome says the receipt may be incomplete and the torn piece shows the top
    half only."""
    svc = service(sim.port)
    half = STATUS_QUERY_BYTES + len(receipt_bytes(svc)) // 2
    assert control(sim, f"STATE paper_out AFTER {half}") == "OK"
    outcome = svc.print_receipt(DOC)
    assert (outcome.printed, outcome.when, outcome.partial) == (False, "after", True)
    assert outcome.reason_key == "receipt.outcome.paper_out_partial"
    (torn,) = sim.wait_for_receipts(1)
    assert torn.cut == "none" and "社会保险" in torn.text and "请妥善保管本凭条" not in torn.text
    assert sim.discarded_bytes > 0
    assert svc.recent_failures[-1].when == "after"


def test_cover_open(sim):
    sim.set_state("cover_open")
    outcome = service(sim.port).print_receipt(DOC)
    assert (outcome.printed, outcome.reason_key, outcome.when) == (
        False, "receipt.outcome.cover_open", "before")
    assert sim.receipts == []


def test_printer_offline(sim):
    sim.set_state("offline")
    outcome = service(sim.port).print_receipt(DOC)
    assert (outcome.printed, outcome.device_reason) == (False, "health.printer.offline")


def test_printer_unreachable():
    """GIVEN nothing listening on the printer's port WHEN printing THEN an outcome, not an error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    alerts: list[StaffAlert] = []
    svc = service(port, alerts=alerts.append)
    outcome = svc.print_receipt(DOC)
    assert (outcome.printed, outcome.reason_key, outcome.when) == (
        False, "receipt.outcome.offline", "before")
    assert "refused" in svc.recent_failures[-1].detail.lower()
    assert [a.reason for a in alerts] == ["health.printer.offline"]
    assert svc.check() is not None and svc.check().reason == "health.printer.offline"
    assert len(alerts) == 1


def test_near_end_alerts_once_and_still_prints(sim):
    """GIVEN paper near its end WHEN receipts print THEN they print, and staff are alerted once;
    after a new roll, the next near end alerts again."""
    alerts: list[StaffAlert] = []
    svc = service(sim.port, alerts=alerts.append)
    sim.set_state("paper_near_end")
    assert svc.print_receipt(DOC).printed and svc.print_receipt(DOC).printed
    assert all(r.complete for r in sim.wait_for_receipts(2))
    assert alerts == [StaffAlert("printer", "health.printer.paper_near_end", alerts[0].detail)]
    sim.set_state("ok")
    assert svc.print_receipt(DOC).printed and len(alerts) == 1
    sim.set_state("paper_near_end")
    assert svc.check().paper.value == "near_end"  # heartbeat poll, before any citizen prints
    assert [a.reason for a in alerts] == ["health.printer.paper_near_end"] * 2


def test_never_raises():
    """GIVEN a broken printer object, an absent printer, a failing alert hook THEN outcomes."""

    class Broken:
        width_dots = 384

        def print_receipt(self, ops):
            raise RuntimeError("bug")

    def bad_alert(alert: StaffAlert) -> None:
        raise OSError("beacon gone")

    cfg = make_config()
    outcome = PrintService(Broken(), cfg, bad_alert).print_receipt(DOC)
    assert (outcome.printed, outcome.reason_key) == (False, "receipt.outcome.failed_partial")
    no_font = PrintService(Broken(), make_config(**{"printer.text_mode": "raster",
                                                    "ui.font_path": "/nonexistent.otf"}))
    outcome = no_font.print_receipt(DOC)
    assert (outcome.printed, outcome.reason_key, outcome.when) == (
        False, "receipt.outcome.failed", "before")
    absent = Unavailable("printer", "health.printer.not_installed", "configured as none")
    outcome = PrintService(absent, cfg, bad_alert).print_receipt(DOC)
    assert (outcome.printed, outcome.reason_key) == (False, "receipt.outcome.not_installed")


def test_masking_on_the_wire_and_on_paper(sim):
    """GIVEN a citizen's full ID number and name THEN neither reaches the printer in any form."""
    svc = service(sim.port)
    for lang in ("zh_CN", "en"):
        for doc in every_kind(lang).values():
            assert svc.print_receipt(doc).printed
    receipts = sim.wait_for_receipts(2 * len(every_kind()))
    secrets = [ID_NUMBER.encode(), ID_NUMBER[6:14].encode(), NAME.encode("gb18030"),
               NAME.encode("utf-8"), "小".encode("gb18030"), b"6222020200112233445"]
    for r in receipts:
        raw = r.bin.read_bytes()
        assert not [s for s in secrets if s in raw], r.png
        assert ID_NUMBER not in r.text and NAME not in r.text and "小" not in r.text


def test_reference_qr_matrix_reads_back():
    matrix = reference_qr_matrix(REF)
    assert len(matrix) == len(matrix[0]) == 25  # version 2
    assert all(matrix[0][:7]) and not matrix[0][7]  # a finder pattern in the corner: no border
    side = len(matrix) + 8
    img = Image.new("L", (side, side), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                img.putpixel((x + 4, y + 4), 0)
    img = img.resize((side * 8, side * 8), Image.NEAREST)
    assert [r.text for r in zxingcpp.read_barcodes(img)] == [REF]
