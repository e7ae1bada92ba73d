"""The participation certificate's screens in both languages (screenshots in
out/test-artifacts/certificate): the insurances and the period, one question each with the
default first; the summary of what was printed; the printer out of paper with its way forward."""

from __future__ import annotations

import pygame
import pytest

from kiosk.flows import Identity
from kiosk.flows.certificate import ParticipationCertificateFlow, summary
from kiosk.flows.steps import AskConfirm, done
from kiosk.screens.flow_host import start_flow
from kiosk.services.certificate import CertificateRow, InsuredUnit, ParticipationCertificate
from kiosk.services.queries import Assurance
from tests.conftest import ARTIFACTS

OUT = ARTIFACTS / "certificate"
WHO = Identity("610113197410120092", "钱多多", Assurance("ecard_qr", verification_id="EV-0123456789ABCDEF"))
CERT = ParticipationCertificate(
    "PC-0123456789ABCDEF", WHO.id_number, WHO.name, "2024-07", "2025-06",
    (CertificateRow("pension", 9, 3, (InsuredUnit("西安小寨百货有限公司", "2024-07", "2025-06"),)),
     CertificateRow("medical", 12, 0, ())),
    "西安市雁塔区社会保险经办中心", "610113", "2025-06-15", "3F2A-9C1B-77E0-D45A",
    "https://bureau.example/verify/3F2A-9C1B-77E0-D45A")


@pytest.fixture(scope="module", params=["zh_CN", "en"])
def h(request, tmp_path_factory):
    from tests.ui.harness import make_harness

    harness = make_harness(tmp_path_factory.mktemp("certificate"), lang=request.param)
    yield harness
    harness.close()


def shown(h, name: str) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    h.frame()
    pygame.image.save(h.ui.surface, str(OUT / f"{h.ui.lang}-{name}.png"))
    assert not h.ui.translators[h.ui.lang].missing, h.ui.translators[h.ui.lang].missing
    return "\n".join(h.ui.text.rendered)


def test_the_certificates_screens(h):
    t = h.ui.t
    h.ui.go_home("test")
    h.ui.sessions.begin(h.clock.monotonic())
    h.ui.sessions.current().remember("identity", WHO)  # identified earlier in the session
    host = start_flow(h.ui, ParticipationCertificateFlow)
    assert h.ui.screen.name == "pick_insurances" and h.ui.screen.flow_indicator == (2, 4)
    text = shown(h, "insurances")
    assert t("certificate.insurance.prompt") in text and t("certificate.insurance.all") in text

    host.answer("all")
    assert h.ui.screen.name == "pick_period"
    text = shown(h, "period")
    assert t("certificate.period.prompt") in text and t("certificate.period.last_12") in text
    assert "back" in [b.name for b in h.ui.bar_buttons]

    host.runner.current = done("certificate.done", "", table=summary(CERT), name="certificate")
    host._render(host.runner)
    assert h.ui.screen.name == "certificate"
    text = shown(h, "summary")
    assert t("certificate.done") in text and CERT.code in text and t("insurance.pension") in text

    host.runner.current = AskConfirm(then="print_again", title="certificate.not_printed.title",
                                     body="certificate.not_printed.paper_out", yes="nav.try_again",
                                     name="certificate_not_printed", back=False)
    host._render(host.runner)
    assert h.ui.screen.name == "certificate_not_printed"
    assert {"retry", "home"} <= {b.name for b in h.ui.screen.buttons}
    text = shown(h, "paper-out")
    assert t("certificate.not_printed.title") in text
    h.ui.go_home("test")
