"""Signing a citizen in with the e-card QR code on their phone (电子社保卡扫码登录): the errors the
Desk raises and what a sign-in gives. The token is read by the barcode scanner or the camera
(Desk.scan_ecard_qr) and presented unchanged to the bureau (Desk.ecard_sign_in,
docs/bureau-api.yaml /v1/ecard/sign-in); the kiosk never parses, stores or logs it."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.services.queries import Assurance

# The bureau's refusals of a token (Problem `code`), each with its own message id.
TOKEN_REFUSALS = ("token_expired", "token_used", "token_malformed", "token_forged", "token_revoked")


class EcardQrError(Exception):
    """Base of the e-card QR sign-in errors; `reason` is a message id (title/body below it)."""

    reason = "ecard.error.no_code"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class NoQrCode(EcardQrError):
    """No code was read in time (or the scan was cancelled): show it again, or use the card."""

    reason = "ecard.error.no_code"


class NoQrReader(EcardQrError):
    """Neither a working scanner nor a working camera: QR sign-in cannot be offered now."""

    reason = "ecard.error.no_reader"


class NotAnEcardToken(EcardQrError):
    """A code was read but it is not an e-card sign-in code (another QR code, a barcode, a line
    the scanner garbled): `source` is scanner | camera."""

    reason = "ecard.error.not_token"

    def __init__(self, detail: str = "", source: str = "") -> None:
        super().__init__(detail)
        self.source = source


class EcardRefused(EcardQrError):
    """The bureau refused the token: `code` is its Problem code (one of TOKEN_REFUSALS) and
    `reason` the message id ecard.error.<code>."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.reason = f"ecard.error.{code}"


@dataclass(frozen=True)
class EcardSignIn:
    """Who the bureau says the token belongs to, and the verification the session cites."""

    id_number: str
    name: str
    verification_id: str  # EV-...: cited as assurance {method: ecard_qr, verification_id}
    expires_in_s: int

    @property
    def assurance(self) -> Assurance:
        return Assurance("ecard_qr", verification_id=self.verification_id)

    def __repr__(self) -> str:  # masked: reprs reach logs
        from kiosk.domain.masking import mask_id, mask_name

        return (f"EcardSignIn(id_number={mask_id(self.id_number)!r}, name={mask_name(self.name)!r}, "
                f"verification_id={self.verification_id!r}, expires_in_s={self.expires_in_s})")
