"""The counter the flows work at: every service a citizen journey calls (the card, the security
module, the bureau's queries and verdicts, the sealed outbox, the printer, the camera) behind one
typed object. Flows call it from worker threads (through Work steps); it opens devices, never the
flows or the screens."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.services.card_service import CardProof, CardService
from kiosk.services.certification import FamilyMember, family_members
from kiosk.services.face_check import FaceCheck, FaceMatch, FacePictures, LivenessSummary, verify_identity
from kiosk.services.queries import Assurance, QueryFailed, QueryService
from kiosk.services.receipts import ReceiptContext

if TYPE_CHECKING:
    from kiosk.card.model import CardIdentity
    from kiosk.hw.idcard_model import IdCardData
    from kiosk.services.certificate import ParticipationCertificate
    from kiosk.services.container import CitizenServices, Submitted
    from kiosk.services.ecard_family import EcardIssued, EcardStatus
    from kiosk.services.ecard_signin import EcardSignIn
    from kiosk.services.printing import PrintOutcome
    from kiosk.services.reference import OutletList

log = logging.getLogger(__name__)


class CardLeftBehind(Exception):
    """The previous session's card was never taken; the new session must not inherit it."""


@dataclass(frozen=True)
class DeskSettings:
    """The numbers flows use, from config (documented there): timeouts and the kiosk's identity."""

    kiosk_id: str = "KIOSK"
    query_timeout_s: float = 10.0
    card_wait_s: float = 30.0
    card_forgotten_s: float = 20.0
    region_code: str = ""
    data_dir: str = ""

    @classmethod
    def from_config(cls, cfg: Any) -> DeskSettings:
        return cls(str(cfg["kiosk.id"]), float(cfg["sync.query_timeout_s"]), float(cfg["card.wait_s"]),
                   float(cfg["card.forgotten_s"]), str(cfg["kiosk.region_code"]), str(cfg["kiosk.data_dir"]))


class Desk:
    def __init__(self, services: CitizenServices, *, language: Callable[[], str] = lambda: "zh_CN",
                 clock_trusted: Callable[[], bool] = lambda: False,
                 now: Callable[[], dt.datetime] = dt.datetime.now) -> None:
        self.services = services
        self.cfg = services.cfg
        self.settings = DeskSettings.from_config(services.cfg)
        self.queries: QueryService = services.queries
        self._language, self._clock_trusted, self._now = language, clock_trusted, now
        self.card_left = False  # a forgotten card was left in the slot: never read it into a session
        self._card: CardService | None = None
        self._qr_camera: Any = None  # the camera's QR reader while it scans (its frame is the preview)

    # ------------------------------------------------------------------ card
    @property
    def card(self) -> CardService:
        if self._card is None:
            self._card = CardService(self.services.devices.reader, self.cfg["card.profile"], self._clock_trusted)
        return self._card

    def read_card(self) -> CardIdentity:
        """Wait for a card (card.wait_s) and read who it belongs to."""
        if self.card_left:
            if self.card.card_present():
                raise CardLeftBehind("a previous citizen's card is still in the reader")
            self.card_left = False
        return self.card.insert_and_read(self.settings.card_wait_s)

    def prove_card(self) -> CardProof:
        """The card proves it is genuine (INTERNAL AUTHENTICATE, checked by the PSAM and the bureau)."""
        psam = self._open_psam()
        try:
            return self.card.authenticate(self.services.sync.query, psam, self.settings.query_timeout_s)
        finally:
            if psam is not None:
                psam.close()

    def reload_pin(self, new: str) -> None:
        """A forgotten PIN replaced, authorised by the security module in its own slot."""
        psam = self._open_psam()
        if psam is None:
            from kiosk.card.errors import SecurityModuleError

            raise SecurityModuleError("no PSAM slot configured")
        try:
            self.card.reload_pin(new, psam)
        finally:
            psam.close()

    def _open_psam(self) -> Any:
        from kiosk.hw.reader_pcsc import open_psam_reader

        return open_psam_reader(self.cfg, sim=self.cfg["devices.reader"] == "sim")

    def card_present(self) -> bool:
        return self.card.card_present()

    def wait_card(self, present: bool, timeout_s: float, poll_s: float = 0.2) -> bool:
        """Wait until the card is in (present) or out; the card session ends either way."""
        import time

        deadline = time.monotonic() + timeout_s
        while self.card.card_present() != present:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
        self.card.end()
        return True

    def same_card_in(self, card_number: str) -> bool:
        """Whether the card of an earlier identification is still in the reader, unchanged."""
        try:
            identity = self.card.read()
        except Exception:
            return False
        return identity.info.card_number == card_number

    def end_card(self) -> None:
        self.card.end()

    def remind_card(self) -> None:
        """A card forgotten in the reader: the buzzer, three times."""
        gpio = self.services.devices.gpio
        if hasattr(gpio, "beep"):
            gpio.beep(3)

    def card_left_behind(self, now: float) -> None:
        """Nobody came back for the card: staff are called; no session may read it until it is out."""
        self.card_left = True
        gpio = self.services.devices.gpio
        if hasattr(gpio, "call_staff"):
            gpio.call_staff(now)

    # ------------------------------------------------------------------ bureau
    def card_status(self, id_number: str, assurance: Assurance) -> str | None:
        """The card's status at the bureau, None when the bureau cannot be reached."""
        try:
            return self.queries.card_status(id_number, assurance)
        except QueryFailed as exc:
            if exc.reason == "query.error.offline":
                return None
            raise

    def verify_face(self, id_number: str, name: str, pictures: FacePictures,
                    liveness: LivenessSummary) -> FaceMatch:
        return verify_identity(self.services.sync.query, id_number, name, pictures, liveness,
                               self.settings.query_timeout_s)

    def family(self, id_number: str, assurance: Assurance) -> list[FamilyMember]:
        return family_members(self.services.sync.query, id_number, assurance, self.settings.query_timeout_s)

    # ------------------------------------------------------------------ e-card application, family account
    def ecard_status(self, id_number: str, assurance: Assurance) -> EcardStatus:
        """The citizen's e-card at the bureau: EcardStatus(status none | active | suspended,
        activated_on). Raises QueryFailed (query.error.offline when unreachable)."""
        from kiosk.services.ecard_family import ecard_status

        return ecard_status(self.services.sync.query, id_number, assurance, self.settings.query_timeout_s)

    def apply_ecard(self, id_number: str, assurance: Assurance, phone: str,
                    operator: tuple[str, Assurance, str] | None = None) -> EcardIssued:
        """Opens an e-card for `id_number`, proven by its own `assurance` made now; `operator`
        (id number, assurance, relation) when a family member applies for them. Returns EcardIssued
        (url for the QR code, activation_code, valid_until). Raises Refused (.code ecard_exists,
        ecard_suspended or card_required) or QueryFailed."""
        from kiosk.services.ecard_family import apply_ecard

        return apply_ecard(self.services.sync.query, id_number, assurance, phone, self.settings.query_timeout_s,
                           operator)

    def add_family_member(self, id_number: str, assurance: Assurance, member_id: str, relation: str,
                          consent_verification_id: str) -> list[FamilyMember]:
        """Adds a member with the member's consent (the FV- of their own face match at the kiosk);
        the family account afterwards. Raises Refused (.code consent_invalid, already_member,
        not_allowed, or citizen_not_found for an unknown member) or QueryFailed."""
        from kiosk.services.ecard_family import add_family_member

        return add_family_member(self.services.sync.query, id_number, assurance, member_id, relation,
                                 consent_verification_id, self.settings.query_timeout_s)

    def remove_family_member(self, id_number: str, assurance: Assurance, member_id: str) -> list[FamilyMember]:
        """Removes a member; the family account afterwards. Raises Refused (.code not_a_member) or
        QueryFailed."""
        from kiosk.services.ecard_family import remove_family_member

        return remove_family_member(self.services.sync.query, id_number, assurance, member_id,
                                    self.settings.query_timeout_s)

    def storage_problem(self) -> str:
        """Why a submission could not be stored now (a message id), or ""."""
        health = self.services.outbox.health()
        return "" if health.usable else health.reason

    def submit(self, kind: str, citizen: dict[str, str], data: dict[str, Any],
               pictures: list[dict[str, str]] | None = None) -> Submitted:
        return self.services.submit(kind, citizen, data, pictures)

    def outlets(self) -> OutletList:
        from kiosk.services.reference import load_outlets

        return load_outlets(self.settings.data_dir)

    # ------------------------------------------------------------------ camera
    def liveness_check(self) -> FaceCheck:
        from kiosk.liveness import LivenessSettings

        return FaceCheck(self.services.devices.camera, LivenessSettings.from_config(self.cfg))

    def liveness_attempts(self) -> int:
        from kiosk.liveness import LivenessSettings

        return LivenessSettings.from_config(self.cfg).attempts

    def liveness_openings(self) -> int:
        from kiosk.liveness import LivenessSettings

        return LivenessSettings.from_config(self.cfg).openings

    @property
    def camera(self) -> Any:
        return self.services.devices.camera

    def photo_preview(self) -> Any:
        """The camera's live picture for the ID photo, running until stopped (a CameraPreview)."""
        from kiosk.services.photo_preview import CameraPreview

        return CameraPreview(self.services.devices.camera).start()

    def photo_checker(self) -> Any:
        from kiosk.services.id_photo import IdPhotoChecker

        return IdPhotoChecker.from_config(self.cfg)

    # ------------------------------------------------------------------ printer, clock, staff
    def print_receipt(self, doc: Any) -> PrintOutcome:
        return self.services.printing.print_receipt(doc)

    def receipt_context(self) -> ReceiptContext:
        return ReceiptContext.from_config(self.cfg, self._language(), self._now())

    def trusted_today(self) -> dt.date | None:
        """Today's date when the clock can be trusted (checked against the bureau), else None."""
        return self._now().date() if self._clock_trusted() else None

    def now(self) -> dt.datetime:
        return self._now()

    def count(self, outcome: str, service: str = "") -> None:
        self.services.count(outcome, service)

    # ------------------------------------------------------------------ resident ID card
    def read_id_card(self) -> IdCardData:
        """Wait for a resident ID card (card.wait_s) and read it. Returns IdCardData (name may hold
        private-use characters: name_has_rare_chars; expired(self.trusted_today()) is None without
        a trusted clock). Raises NoIdCard (none placed in time), IdCardRemoved, IdCardUnreadable,
        SamUnavailable, or IdCardReaderFault (IdCardReaderUnavailable when none is configured or
        it could not be opened): all IdCardError, explained by kiosk/services/errors.py."""
        from kiosk.hw.idcard_errors import IdCardReaderUnavailable, NoIdCard
        from kiosk.hw.registry import Unavailable

        reader = self.services.devices.idcard
        if isinstance(reader, Unavailable):
            health = reader.health()
            raise IdCardReaderUnavailable(health.reason or "idcard.error.reader", health.detail)
        if not reader.wait_for_card(self.settings.card_wait_s):
            raise NoIdCard(f"no ID card within {self.settings.card_wait_s:g} s")
        return reader.read()

    # ------------------------------------------------------------------ e-card QR sign-in
    def ecard_qr_source(self) -> str:
        """Where scan_ecard_qr will read the code now: "scanner" (a scanner fitted and healthy:
        "hold your phone to the scan window"), "camera" ("hold your phone to the camera"), or ""
        (neither works: do not offer QR sign-in). Never blocks."""
        from kiosk.hw.ports import BarcodeScanner, Camera

        scanner = getattr(self.services.devices, "scanner", None)
        if isinstance(scanner, BarcodeScanner) and scanner.health().usable:
            return "scanner"
        camera = self.services.devices.camera
        return "camera" if isinstance(camera, Camera) and camera.health().usable else ""

    def scan_ecard_qr(self, timeout_s: float, cancel: threading.Event | None = None) -> str:
        """The e-card QR code shown by the citizen's phone, as text: read by the barcode scanner
        when one is configured and healthy (codes scanned before this call are dropped), else by
        the camera (kiosk/services/qr_camera.py; a scanner failing mid-scan hands over to it).
        Blocking up to timeout_s: call it in a Work step. Raises NoQrCode (nothing read in time,
        or `cancel` set), NotAnEcardToken (a code that is not `ESSC1.`..., or a line the scanner
        garbled; on the camera path only when nothing but other QR codes was seen), NoQrReader
        (neither a scanner nor a camera works: ecard_qr_source() is "")."""
        import time

        from kiosk.hw.ports import BarcodeScanner, Camera
        from kiosk.hw.scanner_errors import ScannerFault, ScanRejected
        from kiosk.services.ecard_signin import NoQrCode, NoQrReader, NotAnEcardToken
        from kiosk.services.qr_camera import QrCameraReader, looks_like_token

        deadline = time.monotonic() + timeout_s
        scanner = getattr(self.services.devices, "scanner", None)
        if isinstance(scanner, BarcodeScanner) and scanner.health().usable:
            try:
                scanner.clear()
                while not (cancel is not None and cancel.is_set()):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise NoQrCode(f"no code scanned within {timeout_s:g} s")
                    code = scanner.read_code(min(left, 0.25))
                    if code is None:
                        continue
                    if not looks_like_token(code):
                        raise NotAnEcardToken(f"scanned a code of {len(code)} characters", "scanner")
                    log.info("event=ecard_qr source=scanner chars=%d", len(code))
                    return code
                raise NoQrCode("cancelled")
            except ScanRejected as exc:
                raise NotAnEcardToken(f"the scanner sent a line that is not a code ({exc.why})", "scanner") from exc
            except ScannerFault as exc:
                log.warning("event=ecard_qr source=scanner result=fault detail=%r; the camera takes over",
                            str(exc)[:200])
        camera = self.services.devices.camera
        if not (isinstance(camera, Camera) and camera.health().usable):
            raise NoQrReader("no working scanner and no working camera")
        self._qr_camera = reader = QrCameraReader(camera)
        try:
            scan = reader.scan(max(0.0, deadline - time.monotonic()), cancel)
        finally:
            self._qr_camera = None
        if scan.token is not None:
            log.info("event=ecard_qr source=camera chars=%d frames=%d", len(scan.token), scan.frames)
            return scan.token
        if scan.others and not scan.cancelled:
            raise NotAnEcardToken(f"{scan.others} QR code(s) seen, none an e-card code", "camera")
        raise NoQrCode("cancelled" if scan.cancelled else f"no e-card code seen in {scan.frames} frames")

    def qr_preview(self) -> Any:
        """While the camera looks for an e-card QR code: the RGB frame it is decoding, for the
        screen to show (the citizen aims the phone by it); None otherwise (a scanner reads it, or
        no scan is under way). Never blocks."""
        reader = self._qr_camera
        return None if reader is None else reader.latest

    def ecard_sign_in(self, token: str) -> EcardSignIn:
        """Presents the token to the bureau (through the sync daemon). Returns EcardSignIn:
        id_number, name, verification_id (EV-...), expires_in_s, and .assurance (ecard_qr) for
        the session's queries and submissions. Raises EcardRefused (.code token_expired,
        token_used, token_malformed, token_forged or token_revoked; .reason ecard.error.<code>),
        or QueryFailed as the queries do (query.error.offline when the bureau cannot be reached)."""
        from kiosk.services.ecard_signin import TOKEN_REFUSALS, EcardRefused, EcardSignIn

        try:
            answer = self.queries.ecard_sign_in(token)
        except QueryFailed as exc:
            if exc.reason == "query.error.refused" and exc.detail in TOKEN_REFUSALS:
                log.info("event=ecard_sign_in result=refused code=%s", exc.detail)
                raise EcardRefused(exc.detail) from None
            raise
        log.info("event=ecard_sign_in result=signed_in")
        return EcardSignIn(answer["id_number"], answer["name"], answer["verification_id"], answer["expires_in_s"])

    # ------------------------------------------------------------------ participation certificate
    def participation_certificate(self, id_number: str, assurance: Assurance, insurances: tuple[str, ...],
                                  first: str, last: str) -> ParticipationCertificate:
        """The bureau issues the certificate (参保证明) for these insurances and months (YYYY-MM,
        first <= last <= this month), through the sync daemon. Returns ParticipationCertificate
        (rows in the order of `insurances`, the verification code and URL). Raises QueryFailed:
        query.error.offline (the bureau cannot be reached), certificate.error.period (months it
        refuses), query.error.identity / not_found / garbage / refused as the queries do."""
        from kiosk.services.certificate import fetch

        return fetch(self.services.sync.query, self.settings.query_timeout_s, id_number, assurance, insurances,
                     first, last)

    def first_insured_month(self, id_number: str, assurance: Assurance, insurances: tuple[str, ...]) -> str:
        """The first month of contributions (YYYY-MM) among these insurances, from the bureau's
        payment base. Raises QueryFailed as participation_certificate does."""
        from kiosk.services.certificate import first_insured_month

        return first_insured_month(self.services.sync.query, self.settings.query_timeout_s, id_number, assurance,
                                   insurances)
