"""The e-card application and the family account as the screens draw them, in both languages: the
issued e-card's result whose QR code (read back from the screen) opens the official app, the
family account's list with 母亲 rather than "parent", and the two confirmations. Screenshots in
out/test-artifacts/every-flow."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from kiosk.flows import Identity, flow_for
from kiosk.flows import steps as st
from kiosk.screens.flow_host import start_flow
from kiosk.services.certification import FamilyMember, Person
from kiosk.services.queries import Assurance
from tests.ui.harness import make_harness
from tests.ui.test_every_flow_on_screen import save

URL = "https://ecard.example.gov.cn/open?application=ECA-0123456789AB"
MEMBERS = [FamilyMember(Person("110105195501080017", "李建国"), "spouse", True, False),
           FamilyMember(Person("420106195612010061", "周桂兰"), "parent", True, True)]
WHO = Identity("610113197410120092", "钱多多", Assurance("ecard_qr", verification_id="EV-0123456789ABCDEF"))


@pytest.fixture(scope="module", params=["zh_CN", "en"])
def h(request, tmp_path_factory):
    harness = make_harness(tmp_path_factory.mktemp("ecard-family"), lang=request.param)
    yield harness
    harness.close()


def show(h, service: str, step):
    h.ui.go_home("test")
    h.ui.sessions.begin(h.clock.monotonic())
    host = start_flow(h.ui, flow_for(service))
    host.flow.identity = WHO
    host.runner.current = step(host.flow) if callable(step) else step
    host._render(host.runner)
    return host


def qr_on_screen(surface: pygame.Surface) -> list[str]:
    import zxingcpp

    grey = np.ascontiguousarray(pygame.surfarray.array3d(surface).swapaxes(0, 1)[..., 1])
    return [b.text for b in zxingcpp.read_barcodes(grey) if b.valid]


def test_the_issued_e_card_shows_the_app_as_a_qr_code(h):
    out = st.done("ecard_apply.done.title_family", "ecard_apply.done.body", reference="ECA-0123456789AB", qr=URL,
                  qr_caption="ecard_apply.done.qr_caption", name="ecard_issued",
                  fields={"who": "周*兰", "code": "12345678", "until": "2026-12-02 18:00"},
                  facts=(("ecard_apply.done.code", "12345678"), ("ecard_apply.done.until", "2026-12-02 18:00")))
    show(h, "apply_ecard", out)
    save(h, "apply_ecard-issued")
    screen = h.ui.screen
    assert screen.name == "result" and screen.kind == "ok" and screen.reference == "ECA-0123456789AB"
    drawn = "".join(h.ui.text.rendered)
    assert screen.qr_caption == "ecard_apply.done.qr_caption" and "12345678" in drawn
    assert qr_on_screen(h.ui.surface) == [URL]  # the phone opens the app, not the reference
    h.ui.go_home("test")


def test_the_family_account_lists_mother_and_asks_before_removing(h):
    host = show(h, "family_account", lambda flow: (setattr(flow, "owner", WHO), flow.step_members(MEMBERS))[1])
    save(h, "family_account-members")
    drawn = "".join(h.ui.text.rendered)
    assert h.ui.t("family.member.mother", name="周*兰") in drawn and h.ui.t("family_account.add_member") in drawn
    host.runner.current = host.flow.step_pick(1)
    host._render(host.runner)
    save(h, "family_account-confirm-remove")
    assert h.ui.screen.name == "confirm_remove" and "yes" in [b.name for b in h.ui.screen.buttons]
    assert h.ui.t("relation.mother") in "".join(h.ui.text.rendered)
    h.ui.go_home("test")


def test_the_e_card_application_is_confirmed_with_the_phone_masked(h):
    def confirm(flow):
        flow.applicant, flow.member = MEMBERS[1].person, MEMBERS[1]
        flow.for_family = True
        return flow.step_phone("13800138000")

    show(h, "apply_ecard", confirm)
    save(h, "apply_ecard-confirm-family")
    drawn = "".join(h.ui.text.rendered)
    assert "138****8000" in drawn and "13800138000" not in drawn
    h.ui.go_home("test")
