"""The card services: activate a new card, change the PIN. Each ends with a result, a receipt
where there is something to keep, and "take your card"."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kiosk.screens.card_flows import (
    InsertCardScreen,
    WaitCardScreen,
    after_receipt,
    ask_new_pin,
    ask_pin,
    authenticate_card,
    card_service,
    receipt_context,
)
from kiosk.screens.common import Choice, ChoiceScreen
from kiosk.screens.registry import face_identifier, flow
from kiosk.screens.steps import run_step, show_error, show_message
from kiosk.services.queries import Assurance, QueryFailed

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)


@flow("activate_card")
def activate(ui: UI) -> None:
    proven: dict[str, Assurance] = {}  # the card's proof, for the activation the bureau records

    def read(identity: Any) -> None:
        ui.sessions.current().remember("card", identity)
        authenticate_card(ui, lambda proof: confirm(identity, proof.assurance()))

    def confirm(identity: Any, assurance: Assurance) -> None:
        from kiosk.domain.masking import mask_name
        from kiosk.screens.common import Action, MessageScreen

        proven["card"] = assurance
        number = identity.info.card_number
        # The holder checks it is their card before anything is changed on it (masked, not in full).
        ui.show(MessageScreen(ui, "card.activate.confirm.title", "card.activate.confirm.body", [
            Action("card.activate.confirm.yes", lambda: ask_pin(ui, "card.activate.pin_title",
                                                                 lambda pin: verified(identity, pin, assurance),
                                                                 initial_hint=True), "primary", "confirm-card"),
            Action("nav.cancel", lambda: ui.go_home("cancel"), "secondary", "cancel")], kind="info",
            name="confirm_card", name_masked=mask_name(identity.holder.name),
            card=number[:2] + "*****" + number[-2:]), replace=True)

    def verified(identity: Any, initial: str, assurance: Assurance) -> None:
        def status() -> str | None:
            try:
                return ui.services.queries.card_status(identity.holder.id_number, assurance)
            except QueryFailed as exc:
                if exc.reason == "query.error.offline":
                    return None  # activation is queued; the bureau decides when it receives it
                raise

        run_step(ui, "card.activate.checking", status, on_ok=lambda st: decide(identity, initial, st),
                 timeout_s=ui.services.cfg["sync.query_timeout_s"] + 5, name="card_status")

    def decide(identity: Any, initial: str, status: str | None) -> None:
        if status == "active":
            show_message(ui, "card.activate.already.title", "card.activate.already.body", retry=None, kind="info")
        elif status in ("reported_lost", "blocked", "cancelled"):
            show_message(ui, f"card.status.{status}.title", f"card.status.{status}.body", retry=None)
        else:
            offline = status is None
            ui.show(ChoiceScreen(ui, "card.activate.pin_title", "card.adopt.prompt", [
                Choice("card.adopt.new", "new", "card.adopt.new_hint"),
                Choice("card.adopt.keep", "keep", "card.adopt.keep_hint")],
                lambda how: ask_new_pin(ui, identity.holder.id_number,
                                        lambda new: change(identity, initial, new, offline))
                if how == "new" else adopt(identity, initial, offline), columns=1, name="pin_choice"), replace=True)

    def adopt(identity: Any, initial: str, offline: bool) -> None:
        """Keep the old medical insurance card's PIN: take the new card out, verify the old card's
        PIN on the old card, then put the new card back and give it that PIN."""

        def old_in(old: Any) -> None:
            if old.holder.id_number != identity.holder.id_number or old.info.card_number == identity.info.card_number:
                show_message(ui, "card.adopt.wrong_card.title", "card.adopt.wrong_card.body", retry=None)
                return
            ask_pin(ui, "card.adopt.old_pin_title", lambda pin: ui.show(WaitCardScreen(
                ui, "card.adopt.take_old", False, lambda: ui.show(InsertCardScreen(
                    ui, lambda new_again: back(new_again, pin)), replace=True)), replace=True))

        def back(new_again: Any, pin: str) -> None:
            if new_again.info.card_number != identity.info.card_number:
                show_message(ui, "card.adopt.wrong_card.title", "card.adopt.wrong_card.body", retry=None)
                return
            change(identity, initial, pin, offline, action="adopted_medical_card_pin")

        ui.show(WaitCardScreen(ui, "card.adopt.take_new", False,
                               lambda: ui.show(InsertCardScreen(ui, old_in), replace=True)), replace=True)

    def change(identity: Any, initial: str, new: str, offline: bool, action: str = "set_new_pin") -> None:
        def work() -> Any:
            card_service(ui).change_pin(initial, new)
            citizen = {"id_number": identity.holder.id_number, "name": identity.holder.name}
            data: dict[str, Any] = {"card_number": identity.info.card_number, "pin_action": action}
            if "card" in proven:
                data["assurance"] = proven["card"].to_json()
            return ui.services.submit("card_activation", citizen, data)

        def done(sub: Any) -> None:
            from kiosk.services import receipts

            h = identity.holder
            body = "card.activate.done.queued" if sub.queued_offline else "card.activate.done.body"
            after_receipt(ui, "card.activate.done.title", body, sub.reference,
                          lambda: receipts.card_activation(receipt_context(ui), id_number=h.id_number, name=h.name,
                                                           reference=sub.reference))

        run_step(ui, "card.activate.working", work, on_ok=done, timeout_s=30, name="activate")

    if not _can_store(ui):
        return
    ui.show(InsertCardScreen(ui, read))


@flow("change_pin")
def change_pin(ui: UI) -> None:
    def read(identity: Any) -> None:
        ui.sessions.current().remember("card", identity)
        ask_pin(ui, "card.change.old_title", lambda old: ask_new_pin(
            ui, identity.holder.id_number, lambda new: change(old, new)))

    def change(old: str, new: str) -> None:
        run_step(ui, "card.change.working", card_service(ui).change_pin, old, new,
                 on_ok=lambda _r: after_receipt(ui, "card.change.done.title", "card.change.done.body", "", None),
                 on_error=lambda e: show_error(ui, e), timeout_s=20, name="change_pin")

    ui.show(InsertCardScreen(ui, read))


def _can_store(ui: UI) -> bool:
    """Say so before taking any data when a submission could not be stored."""
    link = ui.services.outbox
    health = link.health()
    if not health.usable:
        show_message(ui, "submit.error.storage.title", health.reason, retry=None)
        return False
    return True


@flow("reset_pin")
def reset_pin(ui: UI) -> None:
    """Forgotten PIN: the face check and the bureau's verdict first, then the card, then a new PIN
    twice, written by a PSAM-authorised reload; the reset is recorded at the bureau."""

    face = face_identifier()
    if face is None:
        show_message(ui, "request.no_face.title", "request.no_face.body", retry=None)
        return

    def identified(id_number: str, name: str, assurance: Assurance, _card: bool) -> None:
        ui.show(InsertCardScreen(ui, lambda identity: read(identity, id_number, assurance)), replace=True)

    def read(identity: Any, id_number: str, assurance: Assurance) -> None:
        if identity.holder.id_number != id_number:
            # The face check was for someone else than the card's holder: change nothing.
            show_message(ui, "card.reset.not_holder.title", "card.reset.not_holder.body", retry=None)
            return
        ui.sessions.current().remember("card", identity)
        ask_new_pin(ui, id_number, lambda new: reload(identity, assurance, new))

    def reload(identity: Any, assurance: Assurance, new: str) -> None:
        def work() -> Any:
            from kiosk.hw.reader_pcsc import open_psam_reader

            psam = open_psam_reader(ui.services.cfg, sim=ui.services.cfg["devices.reader"] == "sim")
            if psam is None:
                from kiosk.card.errors import SecurityModuleError

                raise SecurityModuleError("no PSAM slot configured")
            try:
                card_service(ui).reload_pin(new, psam)
            finally:
                psam.close()
            citizen = {"id_number": identity.holder.id_number, "name": identity.holder.name}
            return ui.services.submit("pin_reset", citizen, {"card_number": identity.info.card_number,
                                                             "assurance": assurance.to_json()})

        def done(sub: Any) -> None:
            from kiosk.services import receipts

            h = identity.holder
            after_receipt(ui, "card.reset.done.title", "card.reset.done.body", sub.reference,
                          lambda: receipts.pin_changed(receipt_context(ui), id_number=h.id_number, name=h.name,
                                                       reference=sub.reference, reset=True))

        run_step(ui, "card.reset.working", work, on_ok=done, timeout_s=30, name="reset_pin")

    face(ui, identified)
