"""Every error a citizen can meet, mapped in one place to what happened and what to do next
(message ids for a title and a body). Unknown errors get a plain apology and the counter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Explained:
    title: str
    body: str
    retry: bool  # whether trying again at the kiosk can help
    fields: dict


def explain(exc: BaseException) -> Explained:
    from kiosk.card import errors as ce
    from kiosk.hw import errors as he
    from kiosk.hw import idcard_errors as ie
    from kiosk.services import ecard_signin as ec

    name = type(exc).__name__
    table = {
        he.CardRemoved: ("card.error.removed", True),
        he.NoCard: ("card.error.no_card", True),
        he.CardMute: ("card.error.mute", False),
        ce.MuteCard: ("card.error.mute", False),
        ce.BankOnlyCard: ("card.error.bank_only", False),
        ce.NotSscCard: ("card.error.not_ssc", False),
        ce.CardExpired: ("card.error.expired", False),
        ce.PinBlocked: ("card.error.pin_blocked", False),
        ce.MalformedReply: ("card.error.malformed", True),
        he.ExchangeTimeout: ("card.error.timeout", True),
        he.PcscUnavailable: ("card.error.reader", False),
        he.ReaderGone: ("card.error.reader", False),
        ce.TerminalAuthFailed: ("card.error.terminal_auth", False),
        ce.SecurityModuleError: ("card.error.terminal_auth", False),
        ie.NoIdCard: ("idcard.error.no_card", True),
        ie.IdCardRemoved: ("idcard.error.removed", True),
        ie.IdCardUnreadable: ("idcard.error.unreadable", True),
        ie.SamUnavailable: ("idcard.error.sam", False),
        ie.IdCardReaderFault: ("idcard.error.reader", False),
        ec.NoQrCode: ("ecard.error.no_code", True),
        ec.NotAnEcardToken: ("ecard.error.not_token", True),
        ec.NoQrReader: ("ecard.error.no_reader", False),
    }
    if isinstance(exc, ec.EcardRefused):  # one message per bureau code; a fresh code can help
        return Explained(f"{exc.reason}.title", f"{exc.reason}.body", exc.code != "token_revoked", {})
    for cls in type(exc).__mro__:
        if cls in table:
            key, retry = table[cls]
            return Explained(f"{key}.title", f"{key}.body", retry, {})
    if name == "CardLeftBehind":
        return Explained("card.error.left_behind.title", "card.error.left_behind.body", False, {})
    reason = getattr(exc, "reason", "")
    if name == "QueryFailed":
        return Explained(f"{reason}.title", f"{reason}.body", reason in ("query.error.offline", "query.error.garbage"), {})
    if name in ("StorageError", "StorageFull", "StorageCorrupt"):
        return Explained("submit.error.storage.title", "submit.error.storage.body", False, {})
    return Explained("error.unknown.title", "error.unknown.body", False, {})
