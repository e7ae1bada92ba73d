"""Identification, shared by every flow that needs to know who the citizen is (DESIGN.md "Identity
assurance"): the card + its proof that it is genuine + the PIN, or the typed ID number and name
checked by liveness and the bureau's face match. An identity from an earlier service of the same
session is reused: a card identity while the same card is still in the reader."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from kiosk.card.errors import CardNotGenuine, PinBlocked, WrongPin
from kiosk.flows.base import Flow, Identity, Next
from kiosk.flows.face import FaceSteps
from kiosk.flows.steps import (
    AskChoice,
    AskConfirm,
    AskIdNumber,
    AskName,
    AskPin,
    Option,
    Outcome,
    ScanQr,
    WaitForCard,
    WaitForIdCard,
    Work,
    failed,
)
from kiosk.services.queries import Assurance

if TYPE_CHECKING:
    from kiosk.card.model import CardIdentity
    from kiosk.hw.idcard_model import IdCardData
    from kiosk.services.card_service import CardProof
    from kiosk.services.ecard_signin import EcardSignIn
    from kiosk.services.face_check import FaceMatch



class Identify(FaceSteps, Flow):
    """Mixin: `start_identify()` leads to `identified(identity)`, which the flow implements."""

    # The ways this flow offers, in the order offered: the resident ID card first, the social
    # security card, typing the ID number and name last (each of the ID-card and typed ways is
    # then proved by the face check).
    IDENTIFY_BY: ClassVar[tuple[str, ...]] = ("idcard", "card", "ecard", "face")
    WAYS: ClassVar[dict[str, Option]] = {
        "idcard": Option("identify.idcard", "idcard", "identify.idcard_hint"),
        "card": Option("identify.card", "card", "identify.card_hint"),
        "ecard": Option("identify.ecard", "ecard", "identify.ecard_hint"),
        "face": Option("identify.face", "face", "identify.face_hint"),
    }

    def start_identify(self) -> Next:
        earlier = self.ctx.identity
        if earlier is not None and (not earlier.by_card or "card" in self.IDENTIFY_BY):
            if not earlier.by_card:
                return self._have(earlier)
            return Work(then="same_card", fn=lambda: self.desk.same_card_in(earlier.card_number),
                        message="card.checking_same", stage="identify", name="same_card", timeout_s=15.0)
        ways = self.ways()
        if len(ways) > 1:
            return AskChoice(then="identify_how", title=self.title, stage="identify", prompt="identify.prompt",
                             options=tuple(self.WAYS[w] for w in ways), columns=len(ways), name="identify")
        if ways:
            return self.step_identify_how(ways[0])
        return failed("identify.none.title", "identify.none.body", name="identify_none")

    def ways(self) -> tuple[str, ...]:
        ok = {"idcard": self.ctx.idcard_ok and self.ctx.camera_ok, "card": self.ctx.reader_ok,
              "ecard": self.ctx.qr_ok and self.ctx.bureau_ok,  # offline a QR code cannot be checked
              "face": self.ctx.camera_ok}
        return tuple(w for w in self.IDENTIFY_BY if ok[w])

    def step_same_card(self, same: bool) -> Next:
        earlier = self.ctx.identity
        assert earlier is not None
        if same:
            return self._have(earlier)
        self.ctx.identity = None
        return self.start_identify()

    def _have(self, who: Identity) -> Next:
        self.identity = who
        return self.identified(who)

    def step_identify_how(self, how: str) -> Next:
        return {"idcard": self.by_idcard, "card": self.by_card, "ecard": self.by_ecard, "face": self.by_face}[how]()

    # ------------------------------------------------------------------ the e-card's QR code
    def by_ecard(self) -> Next:
        wait = self.desk.settings.card_wait_s
        return ScanQr(then="ecard_scanned", fn=lambda: self.desk.scan_ecard_qr(wait), stage="identify",
                      message="ecard.scan.title", timeout_s=wait + 5)

    def step_ecard_scanned(self, token: str) -> Next:
        # commits: a token is good once; going back cannot show it again
        return Work(then="ecard_signed_in", fn=lambda: self.desk.ecard_sign_in(token), message="ecard.checking",
                    stage="identify", name="ecard_sign_in", commits=True, on_error="ecard_refused",
                    timeout_s=self.desk.settings.query_timeout_s + 5)

    def step_ecard_refused(self, exc: BaseException) -> Next:
        """A used or expired code: trying again means a fresh code from the phone, scanned anew
        (the same code would be refused again). A revoked e-card ends here."""
        from kiosk.services.ecard_signin import EcardRefused

        if not isinstance(exc, EcardRefused):
            raise exc
        if exc.code == "token_revoked":
            return failed(f"{exc.reason}.title", f"{exc.reason}.body", name="ecard_revoked")
        return AskConfirm(then="ecard_again", title=f"{exc.reason}.title", body=f"{exc.reason}.body",
                          yes="nav.try_again", name="ecard_refused", back=False, stage="identify")

    def step_ecard_again(self, _yes: bool) -> Next:
        return self.by_ecard()

    def step_ecard_signed_in(self, signed: EcardSignIn) -> Next:
        """The bureau checked the token: who it belongs to, and the assurance (ecard_qr)."""
        self.ctx.remember("id_number", signed.id_number)
        return self._have(Identity(signed.id_number, signed.name, signed.assurance))

    # ------------------------------------------------------------------ resident ID card + face
    def by_idcard(self) -> Next:
        return WaitForIdCard(then="idcard_read", fn=self.desk.read_id_card, stage="identify",
                             message="idcard.place.title", timeout_s=self.desk.settings.card_wait_s + 5)

    def step_idcard_read(self, card: IdCardData) -> Next:
        """The ID card says who the citizen is; the face check (as for a typed identity) proves it.
        An expired card is refused with its date, judged only on a trusted date."""
        if card.expired(self.desk.trusted_today()):
            assert card.valid_until is not None
            return failed("idcard.expired.title", "idcard.expired.body", name="idcard_expired",
                          fields={"until": card.valid_until})  # worded as the citizen reads a date
        self.ctx.remember("id_number", card.id_number)
        self.ctx.remember("name", card.name)
        self.typed_id = card.id_number
        return self.typed_identity(card.name)

    # ------------------------------------------------------------------ card + proof + PIN
    def by_card(self) -> Next:
        return WaitForCard(then="card_read", fn=self.desk.read_card, stage="identify",
                           timeout_s=self.desk.settings.card_wait_s + 5)

    def step_card_read(self, card: CardIdentity) -> Next:
        self.card = card
        self.ctx.remember("card", card)
        return Work(then="card_proved", fn=self.desk.prove_card, message="card.auth.checking", stage="identify",
                    timeout_s=2 * self.desk.settings.query_timeout_s + 10, on_error="card_not_proved",
                    name="card_auth")

    def step_card_not_proved(self, exc: BaseException) -> Next:
        if isinstance(exc, CardNotGenuine):
            return failed("card.error.not_genuine.title", "card.error.not_genuine.body", name="not_genuine")
        raise exc

    def step_card_proved(self, proof: CardProof) -> Next:
        self.card_assurance: Assurance = proof.assurance()
        return self.ask_pin("card.pin.title", "card_pin")

    def ask_pin(self, title: str, then: str, hint: str = "", stage: str = "identify", forgot: bool = True) -> AskPin:
        """The card's PIN; `forgot`: a forgotten one can be reset (not so for another card's PIN)."""
        self._pin_ask = AskPin(then=then, title=title, hint=hint, stage=stage, forgot=forgot)
        return self._pin_ask

    def check_pin(self, pin: bytearray, then: str) -> Next:
        """Verify a PIN on the card (on a worker); `then` gets it. A wrong PIN asks again (the
        same ask, with the attempts left); a blocked one ends the flow."""
        text = pin.decode()
        pin[:] = b"\0" * len(pin)

        def verify() -> str:
            self.desk.card.verify_pin(text)
            return text

        # commits: once the PIN is right, back never returns to the PIN entry
        return Work(then=then, fn=verify, message="card.pin.checking", on_error="pin_refused", timeout_s=20.0,
                    name="verify_pin", commits=True)

    def step_pin_refused(self, exc: BaseException) -> Next:
        if isinstance(exc, WrongPin):
            # in words with the tries left; the last one also says what another mistake does
            problem = "card.pin.wrong_last" if exc.retries_left == 1 else "card.pin.wrong"
            return replace(self._pin_ask, problem=problem, attempts_left=exc.retries_left, back=False)
        if isinstance(exc, PinBlocked):
            return failed("card.error.pin_blocked.title", "card.error.pin_blocked.body", name="pin_blocked")
        raise exc

    def step_card_pin(self, pin: bytearray) -> Next:
        return self.check_pin(pin, "card_pin_ok")

    def step_card_pin_ok(self, _pin: str) -> Next:
        h = self.card.holder
        who = Identity(h.id_number, h.name, self.card_assurance, card_number=self.card.info.card_number)
        return self._have(who)

    # ------------------------------------------------------------------ typed ID + face
    def by_face(self) -> Next:
        return AskIdNumber(then="typed_id", title=self.title, stage="identify")

    def step_typed_id(self, id_number: str) -> Next:
        self.typed_id = id_number
        self.ctx.remember("id_number", id_number)
        return AskName(then="typed_name", title=self.title, stage="identify")

    def step_typed_name(self, name: str) -> Next:
        self.ctx.remember("name", name)
        return self.typed_identity(name)

    def typed_identity(self, name: str) -> Next:
        """An ID number and name given (typed, or read from the ID card), not proved yet: the face
        check and the bureau's verdict prove it. Flows whose own face check follows override this."""
        self.typed_name = name
        return self.capture("consent.body_self", self.typed_id, name, offline_ok=False, stage="identify")

    def face_checked(self, match: FaceMatch | None) -> Next:
        """The face match of identification (FaceSteps calls it); certification flows override."""
        assert match is not None  # identification is online only: offline ended in a message
        who = Identity(self.typed_id, self.typed_name, Assurance("face_match", verification_id=match.verification_id))
        return self._have(who)


def no_face_outcome() -> Outcome:
    return failed("request.no_face.title", "request.no_face.body", name="no_face")
