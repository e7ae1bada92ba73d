"""The card services: activate a new card (a new PIN, or the old medical card's PIN kept), change
the PIN, reset a forgotten PIN after a face check. Written to the card only after the citizen
confirmed; recorded at the bureau; the outcome says whether the bureau has it yet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from kiosk.card.pin import new_pin_problem
from kiosk.domain.masking import mask_card, mask_name
from kiosk.flows.base import Flow, Identity, Next
from kiosk.flows.identify import Identify
from kiosk.flows.steps import AskChoice, AskConfirm, AskPin, Option, SwapCard, WaitForCard, Work, done, failed, info
from kiosk.flows.steps import pending as pending_outcome
from kiosk.services import receipts

if TYPE_CHECKING:
    from kiosk.card.model import CardIdentity
    from kiosk.services.card_service import CardProof
    from kiosk.services.container import Submitted
    from kiosk.services.receipts import ReceiptDocument


BAD_STATUSES = ("reported_lost", "blocked", "cancelled")  # a card the kiosk must not touch


def storage_refusal(flow: Flow) -> Next | None:
    """Say so before asking anything when a submission could not be stored."""
    problem = flow.desk.storage_problem()
    return failed("submit.error.storage.title", problem, name="storage") if problem else None


class NewPinSteps(Identify):
    """Mixin: a new PIN twice, by the rules of kiosk.card.pin; then `new_pin_chosen(pin)`."""

    def ask_new_pin(self, problem: str = "") -> AskPin:
        return AskPin(then="new_pin", title="card.new_pin.title", stage="new_pin", problem=problem)

    def step_new_pin(self, pin: bytearray) -> Next:
        text = pin.decode()
        pin[:] = b"\0" * len(pin)
        bad = new_pin_problem(text, self.card.holder.id_number)
        if bad:
            return self.ask_new_pin(bad)
        self._new_pin = text
        return AskPin(then="new_pin_again", title="card.new_pin.again_title", stage="new_pin")

    def step_new_pin_again(self, pin: bytearray) -> Next:
        same = pin.decode() == self._new_pin
        pin[:] = b"\0" * len(pin)
        if not same:
            return self.ask_new_pin("pin.problem.mismatch")
        return self.new_pin_chosen(self._new_pin)

    def new_pin_chosen(self, pin: str) -> Next:
        raise NotImplementedError

    def citizen(self) -> dict[str, str]:
        h = self.card.holder
        return {"id_number": h.id_number, "name": h.name}


class ActivateCard(NewPinSteps):
    service_id = "activate_card"
    title = "service.activate_card.title"
    STAGES = ("card", "pin", "new_pin", "result")
    IDENTIFY_BY = ("card",)
    submits = True

    def start(self) -> Next:
        return storage_refusal(self) or self.by_card()

    def step_card_proved(self, proof: CardProof) -> Next:
        self.card_assurance = proof.assurance()
        return AskConfirm(then="card_confirmed", title="card.activate.confirm.title", stage="card",
                          body="card.activate.confirm.body", yes="card.activate.confirm.yes", name="confirm_card",
                          fields={"name_masked": mask_name(self.card.holder.name),
                                  "card": mask_card(self.card.info.card_number)})

    def step_card_confirmed(self, _yes: bool) -> Next:
        return self.ask_pin("card.activate.pin_title", "initial_pin", hint="card.pin.initial_hint", stage="pin")

    def step_initial_pin(self, pin: bytearray) -> Next:
        return self.check_pin(pin, "initial_ok")

    def step_initial_ok(self, initial: str) -> Next:
        self._initial = initial
        h = self.card.holder
        # the card proved itself genuine and its PIN is right: the holder is identified
        self.identity = Identity(h.id_number, h.name, self.card_assurance, card_number=self.card.info.card_number)
        return Work(then="status", fn=lambda: self.desk.card_status(h.id_number, self.card_assurance),
                    message="card.activate.checking", stage="pin", name="card_status",
                    timeout_s=self.desk.settings.query_timeout_s + 5)

    def step_status(self, status: str | None) -> Next:
        if status == "active":
            return info("card.activate.already.title", "card.activate.already.body", name="already_active")
        if status in BAD_STATUSES:
            return failed(f"card.status.{status}.title", f"card.status.{status}.body", name=f"card_{status}")
        self._offline = status is None  # the bureau decides when it receives the activation
        return AskChoice(then="pin_how", title="card.activate.pin_title", stage="new_pin", prompt="card.adopt.prompt",
                         options=(Option("card.adopt.new", "new", "card.adopt.new_hint"),
                                  Option("card.adopt.keep", "keep", "card.adopt.keep_hint")),
                         columns=1, name="pin_choice")

    def step_pin_how(self, how: str) -> Next:
        if how == "new":
            return self.ask_new_pin()
        return SwapCard(then="new_out", present=False, message="card.adopt.take_new", stage="new_pin",
                        fn=lambda: self.desk.wait_card(False, self.desk.settings.card_wait_s),
                        timeout_s=self.desk.settings.card_wait_s + 5)

    def new_pin_chosen(self, pin: str) -> Next:
        return self.write(pin, "set_new_pin")

    # -- keep the old medical insurance card's PIN: verified on the old card, given to the new one
    def step_new_out(self, out: bool) -> Next:
        if not out:
            return failed("card.adopt.timeout.title", "card.adopt.timeout.body", name="swap_timeout")
        return WaitForCard(then="old_in", fn=self.desk.read_card, stage="new_pin", message="card.adopt.insert.old",
                           timeout_s=self.desk.settings.card_wait_s + 5)

    def step_old_in(self, old: CardIdentity) -> Next:
        if old.holder.id_number != self.card.holder.id_number or old.info.card_number == self.card.info.card_number:
            return failed("card.adopt.wrong_card.title", "card.adopt.wrong_card.body", name="wrong_card")
        return self.ask_pin("card.adopt.old_pin_title", "old_pin", stage="new_pin", forgot=False)  # the old card's

    def step_old_pin(self, pin: bytearray) -> Next:
        return self.check_pin(pin, "old_pin_ok")

    def step_old_pin_ok(self, old_pin: str) -> Next:
        self._old_pin = old_pin
        return SwapCard(then="old_out", present=False, message="card.adopt.take_old", stage="new_pin",
                        fn=lambda: self.desk.wait_card(False, self.desk.settings.card_wait_s),
                        timeout_s=self.desk.settings.card_wait_s + 5)

    def step_old_out(self, out: bool) -> Next:
        if not out:
            return failed("card.adopt.timeout.title", "card.adopt.timeout.body", name="swap_timeout")
        return WaitForCard(then="new_back", fn=self.desk.read_card, stage="new_pin",
                           timeout_s=self.desk.settings.card_wait_s + 5)

    def step_new_back(self, again: CardIdentity) -> Next:
        if again.info.card_number != self.card.info.card_number:
            return failed("card.adopt.wrong_card.title", "card.adopt.wrong_card.body", name="wrong_card")
        return self.write(self._old_pin, "adopted_medical_card_pin")

    # -- written to the card, then recorded
    def write(self, new: str, action: str) -> Next:
        data: dict[str, Any] = {"card_number": self.card.info.card_number, "pin_action": action,
                                "assurance": self.card_assurance.to_json()}

        def work() -> Submitted:
            self.desk.card.change_pin(self._initial, new)
            return self.desk.submit("card_activation", self.citizen(), data)

        return Work(then="activated", fn=work, message="card.activate.working", commits=True, stage="new_pin",
                    name="activate")

    def step_activated(self, sub: Submitted) -> Next:
        h = self.card.holder

        def receipt() -> ReceiptDocument:
            return receipts.card_activation(self.desk.receipt_context(), id_number=h.id_number, name=h.name,
                                            reference=sub.reference)

        if sub.queued_offline:
            return pending_outcome("card.activate.pending.title", "card.activate.pending.body",
                                   reference=sub.reference, receipt=receipt, name="activate_pending")
        return done("card.activate.done.title", "card.activate.done.body", reference=sub.reference,
                    receipt=receipt, name="activate_done")


class ChangePin(NewPinSteps):
    service_id = "change_pin"
    title = "service.change_pin.title"
    STAGES = ("card", "pin", "new_pin", "result")
    IDENTIFY_BY = ("card",)

    def start(self) -> Next:
        return WaitForCard(then="read", fn=self.desk.read_card, stage="card",
                           timeout_s=self.desk.settings.card_wait_s + 5)

    def step_read(self, card: CardIdentity) -> Next:
        self.card = card
        self.ctx.remember("card", card)
        return self.ask_pin("card.change.old_title", "old", stage="pin")

    def step_old(self, pin: bytearray) -> Next:
        return self.check_pin(pin, "old_ok")

    def step_old_ok(self, old: str) -> Next:
        self._old = old
        return self.ask_new_pin()

    def new_pin_chosen(self, pin: str) -> Next:
        old = self._old
        return Work(then="changed", fn=lambda: self.desk.card.change_pin(old, pin), message="card.change.working",
                    commits=True, stage="new_pin", timeout_s=20.0, name="change_pin")

    def step_changed(self, _r: None) -> Next:
        return done("card.change.done.title", "card.change.done.body", name="pin_changed")


class ResetPin(NewPinSteps):
    """Forgotten PIN: the face check and the bureau's verdict first, then the card, then a new PIN
    twice, written by a PSAM-authorised reload; the reset is recorded at the bureau."""

    service_id = "reset_pin"
    title = "service.reset_pin.title"
    STAGES = ("identify", "card", "new_pin", "result")
    IDENTIFY_BY: ClassVar[tuple[str, ...]] = ("idcard", "face")
    submits = True

    def start(self) -> Next:
        if not self.ctx.camera_ok:
            return failed("request.no_face.title", "request.no_face.body", name="no_face")
        return storage_refusal(self) or self.start_identify()

    def identified(self, who: Identity) -> Next:
        self.face_identity = who
        return WaitForCard(then="read", fn=self.desk.read_card, stage="card",
                           timeout_s=self.desk.settings.card_wait_s + 5)

    def step_read(self, card: CardIdentity) -> Next:
        if card.holder.id_number != self.face_identity.id_number:
            # The face check was for someone else than the card's holder: change nothing.
            return failed("card.reset.not_holder.title", "card.reset.not_holder.body", name="not_holder")
        self.card = card
        self.ctx.remember("card", card)
        return self.ask_new_pin()

    def new_pin_chosen(self, pin: str) -> Next:
        data = {"card_number": self.card.info.card_number, "assurance": self.face_identity.assurance.to_json()}

        def work() -> Submitted:
            self.desk.reload_pin(pin)
            return self.desk.submit("pin_reset", self.citizen(), data)

        return Work(then="reset", fn=work, message="card.reset.working", commits=True, stage="new_pin",
                    name="reset_pin")

    def step_reset(self, sub: Submitted) -> Next:
        h = self.card.holder

        def receipt() -> ReceiptDocument:
            return receipts.pin_changed(self.desk.receipt_context(), id_number=h.id_number, name=h.name,
                                        reference=sub.reference, reset=True)

        if sub.queued_offline:
            return pending_outcome("card.reset.pending.title", "card.reset.pending.body", reference=sub.reference,
                                   receipt=receipt, name="reset_pending")
        return done("card.reset.done.title", "card.reset.done.body", reference=sub.reference, receipt=receipt,
                    name="reset_done")
