"""The family account (家庭账户): the relatives a citizen may act for (certify for them, apply for
their e-card). Identify -> the members listed, each with what they are to the citizen (母亲, not
"parent") -> tap one to remove it (asked first), or add one: what they are, who they are (their
ID card, or the typed ID number and name), and their own face check at the kiosk, which is their
presence and consent -> the account afterwards. Online only: the bureau keeps the account."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from kiosk.domain.masking import mask_name
from kiosk.flows.base import Identity, Next
from kiosk.flows.ecard_apply import offline_outcome
from kiosk.flows.identify import Identify
from kiosk.flows.steps import (
    AskChoice,
    AskConfirm,
    AskIdNumber,
    AskName,
    Option,
    Text,
    WaitForIdCard,
    Work,
    done,
    failed,
    info,
    options,
)
from kiosk.services.certification import RELATIONS, FamilyMember, Person, relation_word

if TYPE_CHECKING:
    from kiosk.hw.idcard_model import IdCardData
    from kiosk.services.face_check import FaceMatch

log = logging.getLogger(__name__)


def member_facts(members: list[FamilyMember]) -> tuple[tuple[str, str], ...]:
    """The account as a result shows it: one line per member, masked, with the relation."""
    if not members:
        return (("family_account.fact.members", Text("family_account.none_left")),)
    return tuple(("family_account.fact.member", Text(f"family.member.{m.shown_relation}", name=mask_name(m.person.name)))
                 for m in members)


class FamilyAccount(Identify):
    service_id = "family_account"
    title = "service.family_account.title"
    STAGES: ClassVar[tuple[str, ...]] = ("identify", "members", "member", "confirm", "result")

    members: list[FamilyMember]
    relation = ""
    newcomer: Person
    _member_check = False  # the face check under way is the new member's (not identification's)

    def start(self) -> Next:
        if not self.ctx.bureau_ok:
            return offline_outcome("family_account")
        return self.start_identify()

    def identified(self, who: Identity) -> Next:
        self.owner = who
        return Work(then="members", fn=lambda: self.desk.family(who.id_number, who.assurance),
                    message="family.loading", stage="members", timeout_s=self.desk.settings.query_timeout_s + 5,
                    name="family")

    def step_members(self, members: list[FamilyMember]) -> Next:
        self.members = members
        listed = tuple(Option(f"family.member.{m.shown_relation}", i, "family_account.remove_hint",
                              fields={"name": mask_name(m.person.name)}) for i, m in enumerate(members))
        # adding needs the member's own face check: without a camera it waits for another day
        add = Option("family_account.add_member", "add", "family_account.add_member_hint", enabled=self.ctx.camera_ok)
        prompt = "family_account.list_prompt" if members else "family_account.empty_prompt"
        return AskChoice(then="pick", title=self.title, stage="members", prompt=prompt, options=(*listed, add),
                         columns=2, name="family_account")

    def step_pick(self, value: int | str) -> Next:
        if value == "add":
            return AskChoice(then="relation", title="family_account.add.bar", stage="member",
                             prompt="family_account.add.relation_prompt",
                             options=options([(f"relation.{r}", r) for r in RELATIONS]), columns=3,
                             name="family_relation")
        assert isinstance(value, int)
        self.leaving = m = self.members[value]
        return AskConfirm(then="remove", title="family_account.remove.title", body="family_account.remove.body",
                          yes="family_account.remove.yes", danger=True, name="confirm_remove", stage="confirm",
                          fields={"who": mask_name(m.person.name), "relation": Text(f"relation.{m.shown_relation}")})

    # ------------------------------------------------------------------ remove
    def step_remove(self, _yes: bool) -> Next:
        o, member_id = self.owner, self.leaving.person.id_number
        return Work(then="removed", fn=lambda: self.desk.remove_family_member(o.id_number, o.assurance, member_id),
                    message="family_account.removing", stage="confirm", commits=True, on_error="refused",
                    timeout_s=self.desk.settings.query_timeout_s + 5, name="family_remove")

    def step_removed(self, members: list[FamilyMember]) -> Next:
        return done("family_account.removed.title", "family_account.removed.body", facts=member_facts(members),
                    fields={"who": mask_name(self.leaving.person.name)}, name="family_removed")

    def step_refused(self, exc: BaseException) -> Next:
        from kiosk.services.ecard_family import Refused

        if not isinstance(exc, Refused):
            raise exc  # offline, garbage: explained by the runner, with a retry
        return failed(f"{exc.reason}.title", f"{exc.reason}.body", name=f"family_{exc.code}")

    # ------------------------------------------------------------------ add: who the member is
    def step_relation(self, relation: str) -> Next:
        if relation not in RELATIONS:
            raise ValueError(f"relation {relation!r}")
        self.relation = relation
        if self.ctx.idcard_ok:
            return AskChoice(then="member_how", title="family_account.add.bar", stage="member",
                             prompt="family_account.add.how_prompt",
                             options=(self.WAYS["idcard"], Option("identify.face", "face", "family_account.add.type_hint")),
                             columns=2, name="family_member_how")
        return self.step_member_how("face")

    def step_member_how(self, how: str) -> Next:
        if how == "idcard":
            return WaitForIdCard(then="member_idcard", fn=self.desk.read_id_card, stage="member",
                                 message="idcard.place.title", timeout_s=self.desk.settings.card_wait_s + 5)
        return AskIdNumber(then="member_id", title="family_account.add.bar", stage="member")

    def step_member_idcard(self, card: IdCardData) -> Next:
        if card.expired(self.desk.trusted_today()):
            assert card.valid_until is not None
            return failed("idcard.expired.title", "idcard.expired.body", name="idcard_expired",
                          fields={"until": card.valid_until})
        return self._not_listed(card.id_number) or self.newcomer_named(card.id_number, card.name)

    def _not_listed(self, id_number: str) -> Next | None:
        """Oneself, or someone already in the account, is said so before anyone's face is taken."""
        if id_number == self.owner.id_number:
            return failed("family_account.refused.not_allowed.title", "family_account.refused.not_allowed.body",
                          name="family_not_allowed")
        for m in self.members:
            if m.person.id_number == id_number:
                return info("family_account.refused.already_member.title",
                            "family_account.refused.already_member.body", name="family_already_member",
                            fields={"who": mask_name(m.person.name)})
        return None

    def step_member_id(self, id_number: str) -> Next:
        self._member_id = id_number
        return self._not_listed(id_number) or AskName(then="member_name", title="family_account.add.bar",
                                                     stage="member")

    def step_member_name(self, name: str) -> Next:
        return self.newcomer_named(self._member_id, name)

    def newcomer_named(self, id_number: str, name: str) -> Next:
        """The member stands at the screen now: their consent, and their face proves who they are."""
        self.newcomer = Person(id_number, name)
        self._member_check = True
        return self.capture("family_account.consent_member", id_number, name, offline_ok=False, stage="member")

    # ------------------------------------------------------------------ add: consent and the request
    def face_checked(self, match: FaceMatch | None) -> Next:
        if not self._member_check:
            return super().face_checked(match)  # the owner's identification by the typed ID number and face
        assert match is not None  # online only: offline ended in a message
        self.consent = match.verification_id
        p = self.newcomer
        shown = relation_word(self.relation, p.id_number)
        return AskConfirm(then="add", title="family_account.add.confirm_title", body="family_account.add.confirm_body",
                          yes="family_account.add.yes", name="confirm_add", stage="confirm", back=False,
                          fields={"who": mask_name(p.name), "relation": Text(f"relation.{shown}")})

    def step_add(self, _yes: bool) -> Next:
        o, p, relation, consent = self.owner, self.newcomer, self.relation, self.consent
        return Work(then="added",
                    fn=lambda: self.desk.add_family_member(o.id_number, o.assurance, p.id_number, relation, consent),
                    message="family_account.adding", stage="confirm", commits=True, on_error="refused",
                    timeout_s=self.desk.settings.query_timeout_s + 5, name="family_add")

    def step_added(self, members: list[FamilyMember]) -> Next:
        log.info("event=family_account_added count=%d", len(members))
        return done("family_account.added.title", "family_account.added.body", facts=member_facts(members),
                    fields={"who": mask_name(self.newcomer.name)}, name="family_added")
