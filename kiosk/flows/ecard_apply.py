"""Apply for the electronic social security card (电子社保卡申领), for oneself or for a family member
who is present. Online only: the bureau opens the e-card at once and says how to open it on a
phone (the official app's link, shown as a QR code, and an activation code).

For oneself: identify (ID card + face, card + PIN, or the typed ID number + face) -> the e-card's
status (one already: said so) -> the phone number -> consent -> the application. For a family
member: the operator identifies (the e-card's QR code too), picks the member from the family
account, the member does their own face check (their presence and consent) -> the member's
e-card status -> the phone -> consent -> the application for the member, naming the operator."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from kiosk.domain.masking import mask_name
from kiosk.flows.base import Identity, Next
from kiosk.flows.identify import Identify
from kiosk.flows.requests import mask_phone, phone_ok
from kiosk.flows.steps import AskChoice, AskConfirm, AskPhone, Option, Text, Work, done, failed, info
from kiosk.services.certification import FamilyMember, Person
from kiosk.services.queries import Assurance

if TYPE_CHECKING:
    from kiosk.services.ecard_family import EcardIssued, EcardStatus
    from kiosk.services.face_check import FaceMatch

log = logging.getLogger(__name__)


def offline_outcome(prefix: str) -> Next:
    """The bureau cannot be reached: nothing here can be done now; the ways that remain."""
    return failed(f"{prefix}.offline.title", f"{prefix}.offline.body", name=f"{prefix}_offline")


class ApplyEcard(Identify):
    service_id = "apply_ecard"
    title = "service.apply_ecard.title"
    STAGES: ClassVar[tuple[str, ...]] = ("whom", "identify", "person", "phone", "confirm", "result")

    for_family = False
    member: FamilyMember | None = None
    applicant: Person  # whose e-card
    applicant_assurance: Assurance  # their own proof, made now
    _member_check = False  # the face check under way is the member's (not identification's)

    def start(self) -> Next:
        if not self.ctx.bureau_ok:
            return offline_outcome("ecard_apply")
        family = Option("ecard_apply.for_family", "family", "ecard_apply.for_family_hint", enabled=self.ctx.camera_ok)
        return AskChoice(then="whom", title=self.title, stage="whom", prompt="ecard_apply.whom_prompt",
                         options=(Option("ecard_apply.for_self", "self", "ecard_apply.for_self_hint"), family),
                         columns=2, name="ecard_whom")

    def step_whom(self, whom: str) -> Next:
        if whom not in ("self", "family"):
            raise ValueError(f"whom {whom!r}")
        self.for_family = whom == "family"
        return self.start_identify()

    def ways(self) -> tuple[str, ...]:
        # Whoever has an e-card to sign in with does not apply for one for themselves.
        ways = super().ways()
        return ways if self.for_family else tuple(w for w in ways if w != "ecard")

    def identified(self, who: Identity) -> Next:
        self.operator = who
        if not self.for_family:
            self.applicant, self.applicant_assurance = Person(who.id_number, who.name), who.assurance
            return self.check_status()
        return Work(then="family", fn=lambda: self.desk.family(who.id_number, who.assurance), message="family.loading",
                    stage="person", timeout_s=self.desk.settings.query_timeout_s + 5, name="family")

    # ------------------------------------------------------------------ the family member, present
    def step_family(self, members: list[FamilyMember]) -> Next:
        if not members:
            return info("ecard_apply.no_family.title", "ecard_apply.no_family.body", name="ecard_no_family")
        self.members = members
        return AskChoice(then="member", title=self.title, stage="person", prompt="ecard_apply.member_prompt",
                         options=tuple(Option(f"family.member.{m.shown_relation}", i,
                                              fields={"name": mask_name(m.person.name)})
                                       for i, m in enumerate(members)),
                         columns=2, name="ecard_member")

    def step_member(self, index: int) -> Next:
        self.member = member = self.members[index]
        self._member_check = True
        p = member.person
        return self.capture("ecard_apply.consent_member", p.id_number, p.name, offline_ok=False, stage="person")

    def face_checked(self, match: FaceMatch | None) -> Next:
        if not self._member_check:
            return super().face_checked(match)  # identification by the typed ID number and face
        assert match is not None and self.member is not None  # online only: offline ended in a message
        self.applicant = self.member.person
        self.applicant_assurance = Assurance("face_match", verification_id=match.verification_id)
        return self.check_status()

    # ------------------------------------------------------------------ status, phone, consent
    def check_status(self) -> Work:
        p, a = self.applicant, self.applicant_assurance
        return Work(then="status", fn=lambda: self.desk.ecard_status(p.id_number, a), message="ecard_apply.checking",
                    stage="person", timeout_s=self.desk.settings.query_timeout_s + 5, name="ecard_status")

    def step_status(self, status: EcardStatus) -> Next:
        whose = "family" if self.for_family else "self"
        fields = {"who": mask_name(self.applicant.name), "date": status.activated_on}
        if status.status == "active":
            return info("ecard_apply.already.title", f"ecard_apply.already.body_{whose}", fields=fields,
                        name="ecard_already")
        if status.status == "suspended":
            return failed("ecard_apply.refused.ecard_suspended.title", "ecard_apply.refused.ecard_suspended.body",
                          name="ecard_suspended")
        return self.ask_phone()

    def ask_phone(self) -> AskPhone:
        return AskPhone(then="phone", title="ecard_apply.phone_title", stage="phone", prompt="ecard_apply.phone_prompt")

    def step_phone(self, phone: str) -> Next:
        if not phone_ok(phone):
            return self.ask_phone()
        self.phone = phone
        whose = "family" if self.for_family else "self"
        fields: dict[str, Any] = {"who": mask_name(self.applicant.name), "phone": mask_phone(phone)}
        if self.member is not None:
            fields["relation"] = Text(f"relation.{self.member.shown_relation}")
        return AskConfirm(then="confirm", title="ecard_apply.confirm.title", body=f"ecard_apply.confirm.body_{whose}",
                          yes="ecard_apply.confirm.yes", name="confirm_ecard", stage="confirm", fields=fields)

    # ------------------------------------------------------------------ the application
    def step_confirm(self, _yes: bool) -> Next:
        p, a, phone = self.applicant, self.applicant_assurance, self.phone
        operator = None
        if self.member is not None:
            operator = (self.operator.id_number, self.operator.assurance, self.member.relation)
        return Work(then="issued", fn=lambda: self.desk.apply_ecard(p.id_number, a, phone, operator),
                    message="ecard_apply.working", stage="confirm", commits=True, on_error="apply_refused",
                    timeout_s=self.desk.settings.query_timeout_s + 5, name="ecard_apply")

    def step_apply_refused(self, exc: BaseException) -> Next:
        from kiosk.services.ecard_family import Refused

        if not isinstance(exc, Refused):
            raise exc  # offline, garbage: explained by the runner, with a retry
        if exc.code == "ecard_exists":  # opened meanwhile (on the phone, say): nothing more to do
            whose = "family" if self.for_family else "self"
            return info("ecard_apply.already.title", f"ecard_apply.already.body_{whose}_undated",
                        fields={"who": mask_name(self.applicant.name)}, name="ecard_already")
        return failed(f"{exc.reason}.title", f"{exc.reason}.body", name=f"ecard_{exc.code}")

    def step_issued(self, issued: EcardIssued) -> Next:
        until = issued.valid_until.astimezone()  # worded by the screen: 2026年12月2日 18:00
        whose = "family" if self.for_family else "self"
        log.info("event=ecard_issued applied_for=%s", issued.applied_for)
        return done(f"ecard_apply.done.title_{whose}", "ecard_apply.done.body", reference=issued.application_id,
                    qr=issued.url, qr_caption="ecard_apply.done.qr_caption",
                    fields={"who": mask_name(self.applicant.name), "code": issued.activation_code, "until": until},
                    facts=(("ecard_apply.done.code", issued.activation_code), ("ecard_apply.done.until", Text("dates.moment", when=until))),
                    name="ecard_issued")
