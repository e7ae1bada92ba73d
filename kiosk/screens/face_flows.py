"""The face services: pension qualification authentication, the same for a family member, and the
annual review. Identify (card + PIN, or ID number + name) -> where you live -> consent -> liveness
-> the bureau's face match (online) -> confirm -> sealed submission -> result and receipt."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kiosk.domain.masking import mask_id, mask_name
from kiosk.screens.card_flows import after_receipt, identify_by_card, receipt_context
from kiosk.screens.common import Choice, ChoiceScreen
from kiosk.screens.face_identify import Captured, ask_id_and_name, capture, verify
from kiosk.screens.face_screens import ConfirmScreen, Fact
from kiosk.screens.registry import flow
from kiosk.screens.steps import run_step, show_error, show_message
from kiosk.services import receipts
from kiosk.services.certification import (
    RESIDENCES,
    FamilyMember,
    Person,
    certification_data,
    family_members,
)
from kiosk.services.face_check import FaceMatch
from kiosk.services.queries import Assurance

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Service:
    id: str  # the home tile's service id
    kind: str  # the submission kind
    bar: str  # title bar message id
    family: bool = False

    @property
    def title(self) -> str:
        return f"service.{self.id}.title"


PENSION = Service("pension_auth", "pension_certification", "certify.pension_bar")
FAMILY = Service("family_auth", "pension_certification", "certify.family_bar", family=True)
ANNUAL = Service("annual_review", "annual_review", "certify.annual_bar")


@dataclass(frozen=True)
class Case:
    """One certification under way. `person` is whose it is (the relative, for a family member)."""

    person: Person
    assurance: Assurance | None  # how `person` was identified before the face check (card + PIN)
    card: bool  # a card is in the reader: ask for it back at the end
    operator: Person | None = None  # who does it on the person's behalf
    relation: str = ""
    residence: str = ""

    def __repr__(self) -> str:
        return f"<Case person={self.person!r} card={self.card} family={self.operator is not None}>"


def can_store(ui: UI) -> bool:
    """Say so before taking any data (or any picture) when a submission could not be stored."""
    health = ui.services.outbox.health()
    if not health.usable:
        show_message(ui, "submit.error.storage.title", health.reason, retry=None)
        return False
    return True


def _identify_self(ui: UI, service: Service, then: Callable[[Case], None]) -> None:
    """Card + PIN, or the typed ID number and name (checked by the face match that follows)."""

    def by_card() -> None:
        identify_by_card(ui, lambda ident, assurance: then(
            Case(Person(ident.holder.id_number, ident.holder.name), assurance, True)))

    def by_typing() -> None:
        ask_id_and_name(ui, lambda person: then(Case(person, None, False)))

    health = ui.health
    if not ("reader" in health and health["reader"].usable):
        by_typing()
        return
    ui.show(ChoiceScreen(ui, service.bar, "identify.prompt", [
        Choice("identify.card", "card", "identify.card_hint"),
        Choice("identify.face", "face", "identify.face_hint")],
        lambda how: by_card() if how == "card" else by_typing(), name="identify"))


def _residence(ui: UI, service: Service, case: Case) -> None:
    prompt = "certify.residence_prompt_family" if service.family else "certify.residence_prompt"
    ui.show(ChoiceScreen(ui, service.bar, prompt, [Choice(f"residence.{r}", r, f"residence.{r}_hint")
                                                   for r in RESIDENCES],
                         lambda r: _face(ui, service, replace(case, residence=r)), columns=3, name="residence"),
            replace=ui.screen.name in ("wait", "choice", "family_members", "pin_entry", "name_entry"))


def _face(ui: UI, service: Service, case: Case) -> None:
    body = "consent.body_family" if service.family else "consent.body_self"

    def shoot(ask_consent: bool = True) -> None:
        capture(ui, body, lambda cap: verify(ui, case.person, cap, lambda match: _confirm(ui, service, case, cap, match),
                                             lambda: shoot(False), offline_ok=True),
                title_key=service.bar, ask_consent=ask_consent)

    shoot()


def _confirm(ui: UI, service: Service, case: Case, cap: Captured, match: FaceMatch | None) -> None:
    p = case.person
    facts = [Fact("certify.fact.service", service.title, True), Fact("certify.fact.name", mask_name(p.name)),
             Fact("certify.fact.id", mask_id(p.id_number)),
             Fact("certify.fact.residence", f"residence.{case.residence}", True),
             Fact("certify.fact.face", "certify.face_match" if match else "certify.face_pending", True)]
    if case.operator is not None:
        facts += [Fact("certify.fact.relation", f"relation.{case.relation}", True),
                  Fact("certify.fact.operator", mask_name(case.operator.name))]
    ui.show(ConfirmScreen(ui, service.bar, facts, lambda: _submit(ui, service, case, cap, match), cap.pictures),
            replace=True)


def _submit(ui: UI, service: Service, case: Case, cap: Captured, match: FaceMatch | None) -> None:
    # The card and its PIN identified the citizen; otherwise the match did, or (offline) nobody
    # yet: the bureau compares the pictures itself when the submission arrives.
    if case.assurance is not None and case.operator is None:
        assurance: Assurance | None = case.assurance
    else:
        assurance = Assurance("face_match", verification_id=match.verification_id) if match else None
    data = certification_data(case.residence, cap.liveness, assurance, case.operator, case.relation)

    def work() -> Any:
        return ui.services.submit(service.kind, case.person.to_json(), data, cap.pictures.for_submission())

    def done(sub: Any) -> None:
        log.info("event=certification_submitted kind=%s family=%d matched=%d queued=%d", service.kind,
                 int(service.family), int(match is not None), int(sub.queued_offline))
        verdict = receipts.Verdict.PASSED if match else receipts.Verdict.QUEUED
        if match:
            title, body = f"certify.done.{service.id}_passed", ("certify.done.passed_queued_body"
                                                                if sub.queued_offline else "certify.done.passed_body")
        else:
            title, body = f"certify.done.{service.id}_queued", "certify.done.queued_body"
        p = case.person

        def receipt() -> Any:
            ctx = receipt_context(ui)
            if service.kind == "annual_review":
                return receipts.annual_review(ctx, id_number=p.id_number, name=p.name, reference=sub.reference,
                                              verdict=verdict)
            return receipts.pension_auth(ctx, id_number=p.id_number, name=p.name, reference=sub.reference,
                                         verdict=verdict, family=service.family)

        after_receipt(ui, title, body, sub.reference, receipt, kind="ok" if match else "info", card=case.card)

    run_step(ui, "certify.submitting", work, on_ok=done, timeout_s=30, name="submit")


def _certify_self(ui: UI, service: Service) -> None:
    if can_store(ui):
        _identify_self(ui, service, lambda case: _residence(ui, service, case))


@flow("pension_auth")
def pension_auth(ui: UI) -> None:
    _certify_self(ui, PENSION)


@flow("annual_review")
def annual_review(ui: UI) -> None:
    _certify_self(ui, ANNUAL)


@flow("family_auth")
def family_auth(ui: UI) -> None:
    """The citizen identifies (card or face), picks a relative from the family account, and the
    relative does the face check; the submission names the citizen as operator."""
    from kiosk.screens.query_flows import identify

    def identified(id_number: str, name: str, assurance: Assurance, card: bool) -> None:
        operator = Person(id_number, name)
        timeout = float(ui.services.cfg["sync.query_timeout_s"])
        run_step(ui, "family.loading", lambda: family_members(ui.services.sync.query, id_number, assurance, timeout),
                 on_ok=lambda members: pick(operator, card, members),
                 on_error=lambda e: show_error(ui, e, retry=lambda: identified(id_number, name, assurance, card)),
                 timeout_s=timeout + 5, name="family")

    def pick(operator: Person, card: bool, members: list[FamilyMember]) -> None:
        if not members:
            show_message(ui, "family.none.title", "family.none.body", retry=None, kind="info")
            return
        choices = [Choice(f"family.member.{m.relation}", i, "family.due" if m.certification_due else "family.not_due",
                          fields={"name": mask_name(m.person.name)}) for i, m in enumerate(members)]
        ui.show(ChoiceScreen(ui, FAMILY.bar, "family.pick_prompt", choices,
                             lambda i: _residence(ui, FAMILY, Case(members[i].person, None, card, operator,
                                                                  members[i].relation)),
                             columns=2, name="family_members"), replace=True)

    if can_store(ui):
        identify(ui, identified)
