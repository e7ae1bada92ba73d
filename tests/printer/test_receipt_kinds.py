"""Every receipt kind, printed through python-escpos over TCP to the printer simulator."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kiosk.domain.masking import mask_id, mask_name
from kiosk.services import receipts as R
from kiosk.services.printing import render_image
from simulators.printer.render import PAPER_DOTS, TOP_MARGIN

from .conftest import (
    BUREAU,
    ID_NUMBER,
    KIOSK_ID,
    NAME,
    REF,
    decoded,
    every_kind,
    service,
    squeeze,
)


def strings(doc: R.ReceiptDocument) -> list[str]:
    """Every label, value and note the document holds."""
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, R.Field):
            out += [b.label, b.value]
        elif isinstance(b, (R.Title, R.Note)):
            out.append(b.text)
        elif isinstance(b, R.Qr):
            out.append(b.caption)
    return out


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_each_kind_prints_in_text_mode(sim, lang):
    """GIVEN every receipt kind WHEN printed in GB18030 text mode THEN the paper shows all of
    its strings, the frame every receipt carries, and a QR code that reads as the reference."""
    docs = every_kind(lang)
    svc = service(sim.port)
    for doc in docs.values():
        assert svc.print_receipt(doc).printed
    printed = sim.wait_for_receipts(len(docs))
    for (kind, doc), receipt in zip(docs.items(), printed, strict=True):
        paper = squeeze(receipt.text)
        assert receipt.complete, kind
        for s in strings(doc):
            assert squeeze(s) in paper, (kind, s)
        for fact in (BUREAU, REF, KIOSK_ID, "2025-03-1409:30"):
            assert fact in paper, (kind, fact)
        if kind != "printer_test":  # the only receipt without a citizen on it
            assert mask_name(NAME) in paper and mask_id(ID_NUMBER) in paper, kind
        assert receipt.qr_payloads == (REF,), kind
        assert decoded(receipt.png) == [REF], kind


def test_kind_specific_facts():
    """GIVEN the builders THEN each receipt says what its service needs it to say."""
    zh, en = every_kind("zh_CN"), every_kind("en")
    assert "2026-03-13" in zh["pension_auth"].text
    assert "结果另行通知" in zh["pension_auth_queued"].text
    family = zh["family_auth_not_passed"].text
    assert "代亲属" in family and "12333" in family
    assert "2025-04-13" in zh["card_loss"].text and "解除挂失" in zh["card_loss"].text
    assert "尚未冻结" in zh["card_loss_queued"].text and "NOT blocked" in en["card_loss_queued"].text
    assert "工商银行朝阳路支行" in zh["card_application"].text and "进度" in zh["card_application"].text
    assert "欠缴2个月" in zh["payment_records"].text and "65" in zh["payment_records"].text
    pay = zh["pension_payments"].text
    assert "***************3445" in pay and "6222020200112233445" not in pay
    assert "21,000.00 元" in pay and "CNY 3,500.00" in en["pension_payments"].text
    assert "不含密码" in zh["pin_changed"].text and "does not show your PIN" in en["pin_reset"].text
    assert {d.kind for d in zh.values()} >= {
        "pension_auth", "family_auth", "annual_review", "card_activation", "pin_changed",
        "pin_reset", "card_loss", "card_application", "payment_records", "pension_payments",
        "test"}
    assert all(d.reference == REF and d.qr_payloads == (REF,) for d in zh.values())


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_each_kind_prints_in_raster_mode_80mm(sim80, lang):
    """GIVEN raster mode on 80 mm paper WHEN every kind is printed THEN the paper shows exactly
    the image the kiosk drew (so its text is what render_image drew), and the QR reads."""
    docs = every_kind(lang)
    svc = service(sim80.port, mode="raster", paper_mm=80)
    for doc in docs.values():
        assert svc.print_receipt(doc).printed
    printed = sim80.wait_for_receipts(len(docs))
    left = (PAPER_DOTS[576] - 576) // 2
    for (kind, doc), receipt in zip(docs.items(), printed, strict=True):
        assert receipt.complete and receipt.text.startswith("[image 576x"), kind
        assert decoded(receipt.png) == [REF], kind
        sent = np.asarray(render_image(doc, 576).convert("L")) < 128
        paper = np.asarray(Image.open(receipt.png).convert("L")) < 128
        top = TOP_MARGIN
        assert (paper[top : top + sent.shape[0], left : left + 576] == sent).all(), kind


def test_catalogs_have_the_same_keys():
    zh, en = R.catalog("zh_CN"), R.catalog("en")
    assert set(zh) == set(en)
    assert all(k.startswith("receipt.") for k in zh)
    for key in zh:  # placeholders match, so a language switch never raises KeyError
        assert sorted(_fields(zh[key])) == sorted(_fields(en[key])), key


def _fields(s: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(s) if f]
