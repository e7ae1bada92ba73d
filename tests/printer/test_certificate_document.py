"""The participation certificate on paper (kiosk/services/certificate.py): what it says in both
languages and both print modes. The holder is named in full (the certificate is the citizen's own
document, shown to an employer or a school); the ID number is masked as on every receipt; the
verification code is printed in words and the QR code is the bureau's verification URL, exactly.
The 58 mm text-mode lines are golden (regenerate with UPDATE_GOLDEN=1 and review the diff)."""

from __future__ import annotations

import copy
import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
import zxingcpp

from kiosk.hw.printer_escpos import QrCode, TextLine
from kiosk.services import certificate as C
from kiosk.services.printing import receipt_ops, render_image
from kiosk.services.queries import QueryFailed
from kiosk.services.receipts import ReceiptContext
from tests import openapi_util

GOLDEN = Path(__file__).parent / "golden" / "participation_certificate_gb18030_58mm.txt"
ID_NUMBER, NAME = "610113197410120092", "钱多多"
CODE = "3F2A-9C1B-77E0-D45A"
ANSWER: dict[str, Any] = {
    "certificate_id": "PC-0123456789ABCDEF",
    "citizen": {"id_number": ID_NUMBER, "name": NAME},
    "period": {"from": "2024-07", "to": "2025-06"},
    "rows": [{"insurance": "pension", "months_paid": 9, "months_owed": 3,
              "units": [{"name": "西安小寨百货有限公司", "first_month": "2024-07", "last_month": "2025-06"}]},
             {"insurance": "maternity", "months_paid": 0, "months_owed": 0, "units": []}],
    "issuing_bureau": {"name": "西安市雁塔区社会保险经办中心", "code": "610113"},
    "issued_on": "2025-06-15",
    "verification": {"code": CODE, "url": f"https://bureau.example/verify/{CODE}"},
}


def doc(lang: str) -> Any:
    openapi_util.validate("ParticipationCertificate", ANSWER)  # the fixture is a contract answer
    ctx = ReceiptContext("unused: the issuing bureau heads a certificate", "KIOSK-0001",
                         dt.datetime(2025, 6, 15, 10, 0), lang)
    return C.document(ctx, C.parse(ANSWER))


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_holder_the_months_and_the_code_in_words(lang):
    d = doc(lang)
    text = d.text
    assert NAME in text and "6101**********0092" in text and ID_NUMBER not in text
    assert CODE in text and "PC-0123456789ABCDEF" in text and "西安市雁塔区社会保险经办中心" in text
    assert "2024-07" in text and "2025-06" in text and "西安小寨百货有限公司" in text
    assert "certificate." not in text and "unused" not in text  # every string translated
    assert d.qr_payloads == (ANSWER["verification"]["url"],)
    assert d.kind == "participation_certificate" and d.reference == CODE and d.lang == lang
    # text mode: the code on a line of its own, the QR code native, nothing unmasked
    ops = receipt_ops(d, "gb18030", 384)
    lines = [op.text for op in ops if isinstance(op, TextLine)]
    assert any(CODE in line for line in lines) and not any(ID_NUMBER in line for line in lines)
    assert [op.data for op in ops if isinstance(op, QrCode)] == [ANSWER["verification"]["url"]]
    assert max(sum(1 if c.isascii() else 2 for c in line) for line in lines) <= 32  # 58 mm: 32 columns


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_raster_mode_qr_code_reads_back_as_the_verification_url(lang):
    image = render_image(doc(lang), 384)
    assert [r.text for r in zxingcpp.read_barcodes(image.convert("L"))] == [ANSWER["verification"]["url"]]


def test_text_mode_golden_lines():
    lines = "\n".join(f"{op.align:<6}|{op.text}" for op in receipt_ops(doc("zh_CN"), "gb18030", 384)
                      if isinstance(op, TextLine))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(lines + "\n", encoding="utf-8")
    assert lines + "\n" == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.parametrize("spoil", [
    lambda a: a["verification"].update(url="https://bureau.example/verify/OTHER"),  # not this code
    lambda a: a["verification"].update(url=f"http://bureau.example/verify/{CODE}"),  # not HTTPS
    lambda a: a["verification"].update(code="3f2a-9c1b-77e0-d45a"),
    lambda a: a["rows"][0].update(months_paid=-1),
    lambda a: a["rows"][0].update(insurance="dental"),
    lambda a: a.pop("issuing_bureau"),
])
def test_an_answer_off_the_contract_is_garbage_never_printed(spoil):
    answer = copy.deepcopy(ANSWER)
    spoil(answer)
    with pytest.raises(QueryFailed) as refused:
        C.parse(answer)
    assert refused.value.reason == "query.error.garbage"



def test_months_the_bureau_refuses_are_said_as_such_and_an_answer_for_someone_else_is_garbage():
    from kiosk.services.queries import Assurance
    from kiosk.sync.client import BureauRejected

    who = Assurance("ecard_qr", verification_id="EV-0123456789ABCDEF")

    def refuses(kind: str, body: dict, timeout: float) -> dict:
        raise BureauRejected("400 bad_period", 400, "bad_period")

    with pytest.raises(QueryFailed) as refused:
        C.fetch(refuses, 5.0, ID_NUMBER, who, ("pension", "maternity"), "2025-01", "2099-12")
    assert refused.value.reason == "certificate.error.period"

    def answers(kind: str, body: dict, timeout: float) -> dict:
        openapi_util.validate("ParticipationCertificateRequest", body)
        return copy.deepcopy(ANSWER)

    assert C.fetch(answers, 5.0, ID_NUMBER, who, ("pension", "maternity"), "2024-07", "2025-06").code == CODE
    with pytest.raises(QueryFailed) as other:
        C.fetch(answers, 5.0, "110105195803120029", who, ("pension", "maternity"), "2024-07", "2025-06")
    assert other.value.reason == "query.error.garbage"
