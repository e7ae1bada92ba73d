"""The face certification services as flows: pension qualification authentication, the same for a
family member, and the annual review. Identify (card + PIN, or the typed ID number and name) ->
where the person lives -> consent -> liveness -> the bureau's face match (offline: the bureau
compares on arrival) -> review -> sealed submission -> outcome and receipt.

For oneself, the typed identity is not face-matched at identification: the certification's own
face check is the check. For a family member, the operator identifies first (card, or face), picks
the relative from the family account, and the relative does the face check."""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from kiosk.domain.masking import mask_id, mask_name
from kiosk.flows.base import Identity, Next
from kiosk.flows.card import storage_refusal
from kiosk.flows.identify import Identify, no_face_outcome
from kiosk.flows.steps import AskChoice, AskReview, Fact, Option, Text, Work, done, info
from kiosk.flows.steps import pending as pending_outcome
from kiosk.services import receipts
from kiosk.services.certification import RESIDENCES, FamilyMember, Person, certification_data, relation_word
from kiosk.services.face_check import FaceMatch
from kiosk.services.queries import Assurance

log = logging.getLogger(__name__)


def valid_until(certified_on: dt.date, months: int) -> dt.date:
    """The last day a certification made on `certified_on` holds: the day before the same date
    `months` later (the month's last day when that month has no such date: 29 February)."""
    years, month0 = divmod(certified_on.month - 1 + months, 12)
    year, month = certified_on.year + years, month0 + 1
    last = calendar.monthrange(year, month)[1]
    if certified_on.day > last:
        return dt.date(year, month, last)
    return dt.date(year, month, certified_on.day) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Case:
    """One certification under way. `person` is whose it is (the relative, for a family member)."""

    person: Person
    assurance: Assurance | None  # how `person` was identified before the face check (card + PIN)
    card: bool  # a card is in the reader: the citizen takes it back at the end
    operator: Person | None = None  # who does it on the person's behalf
    relation: str = ""
    residence: str = ""

    def __repr__(self) -> str:
        return f"<Case person={self.person!r} card={self.card} family={self.operator is not None}>"


class Certify(Identify):
    """The steps every certification shares, from the residence to the outcome."""

    kind: ClassVar[str] = "pension_certification"  # the submission's kind
    family: ClassVar[bool] = False
    STAGES: ClassVar[tuple[str, ...]] = ("identify", "residence", "face", "review", "result")
    submits = True

    case: Case
    match: FaceMatch | None

    def refusal(self) -> Next | None:
        """Before anything is asked: somewhere to store the submission, and a camera for the check."""
        refused = storage_refusal(self)
        if refused is not None:
            return refused
        return None if self.ctx.camera_ok else no_face_outcome()

    # ------------------------------------------------------------------ where the person lives
    def ask_residence(self, case: Case) -> Next:
        self.case = case
        prompt = "certify.residence_prompt_family" if self.family else "certify.residence_prompt"
        return AskChoice(then="residence", title=self.title, stage="residence", prompt=prompt,
                         options=tuple(Option(f"residence.{r}", r, f"residence.{r}_hint") for r in RESIDENCES),
                         columns=3, name="residence")

    def step_residence(self, residence: str) -> Next:
        if residence not in RESIDENCES:
            raise ValueError(f"residence {residence!r}")
        self.case = replace(self.case, residence=residence)
        self._certifying = True  # from here on, face_checked() is the certification's face check
        body = "consent.body_family" if self.family else "consent.body_self"
        p = self.case.person
        return self.capture(body, p.id_number, p.name, offline_ok=True, stage="face")

    # ------------------------------------------------------------------ the face check's verdict
    def face_checked(self, match: FaceMatch | None) -> Next:
        if not getattr(self, "_certifying", False):
            return super().face_checked(match)  # the operator's identification (family)
        self.match = match
        p = self.case.person
        if match is not None and self.identity is None and self.case.operator is None:
            # a typed identity is proved now: "another service" of the session may keep it
            self.identity = Identity(p.id_number, p.name, Assurance("face_match", verification_id=match.verification_id))
        return self.review()

    def review(self) -> AskReview:
        case, match = self.case, self.match
        p = case.person
        facts = [Fact("certify.fact.service", self.title, True), Fact("certify.fact.name", mask_name(p.name)),
                 Fact("certify.fact.id", mask_id(p.id_number)),
                 Fact("certify.fact.residence", f"residence.{case.residence}", True),
                 Fact("certify.fact.face", "certify.face_match" if match else "certify.face_pending", True)]
        if case.operator is not None:
            facts += [Fact("certify.fact.relation", f"relation.{relation_word(case.relation, p.id_number)}", True),
                      Fact("certify.fact.operator", mask_name(case.operator.name))]
        return AskReview(then="review", title=self.title, stage="review", facts=tuple(facts),
                         pictures=self.captured.pictures, back=False)

    # ------------------------------------------------------------------ the submission
    def submission_assurance(self) -> Assurance | None:
        """The card and its PIN identified the citizen; otherwise the match did, or (offline) nobody
        yet: the bureau compares the pictures itself when the submission arrives."""
        case, match = self.case, self.match
        if case.assurance is not None and case.operator is None:
            return case.assurance
        return Assurance("face_match", verification_id=match.verification_id) if match else None

    def step_review(self, _yes: bool) -> Next:
        case, cap = self.case, self.captured
        data = certification_data(case.residence, cap.liveness, self.submission_assurance(), case.operator,
                                  case.relation)
        citizen, pictures = case.person.to_json(), cap.pictures.for_submission()
        return Work(then="submitted", fn=lambda: self.desk.submit(self.kind, citizen, data, pictures),
                    message="certify.submitting", stage="review", commits=True, timeout_s=30.0, name="submit")

    def step_submitted(self, sub: Any) -> Next:
        matched = self.match is not None
        log.info("event=certification_submitted kind=%s family=%d matched=%d queued=%d", self.kind,
                 int(self.family), int(matched), int(sub.queued_offline))
        verdict = receipts.Verdict.PASSED if matched else receipts.Verdict.QUEUED
        p = self.case.person
        # Passed and recorded by the bureau: until when it holds, the first thing on the result (only
        # by a trusted clock; the annual review has no such date).
        today = self.desk.trusted_today()
        until = (valid_until(today, int(self.desk.cfg["certify.valid_months"]))
                 if matched and not sub.queued_offline and today is not None and self.kind != "annual_review"
                 else None)

        def receipt() -> Any:
            ctx = self.desk.receipt_context()
            if self.kind == "annual_review":
                return receipts.annual_review(ctx, id_number=p.id_number, name=p.name, reference=sub.reference,
                                              verdict=verdict)
            return receipts.pension_auth(ctx, id_number=p.id_number, name=p.name, reference=sub.reference,
                                         verdict=verdict, family=self.family, valid_until=until)

        sid = self.service_id
        if matched and not sub.queued_offline:  # matched, and the bureau has the submission
            facts = (("certify.fact.valid_until", Text("certify.valid_until", until=until)),) if until else ()
            return done(f"certify.done.{sid}_passed", "certify.done.passed_body", reference=sub.reference,
                        receipt=receipt, facts=facts, name=f"{sid}_done")
        if matched:  # matched; the submission waits in the outbox
            return pending_outcome(f"certify.done.{sid}_passed", "certify.done.passed_queued_body",
                                   reference=sub.reference, receipt=receipt, name=f"{sid}_pending")
        return pending_outcome(f"certify.done.{sid}_queued", "certify.done.queued_body", reference=sub.reference,
                               receipt=receipt, name=f"{sid}_queued")


class CertifySelf(Certify):
    """For oneself: card + PIN, or the typed ID number and name with no face check yet (the
    certification's face check that follows is the check)."""

    def start(self) -> Next:
        return self.refusal() or self.start_identify()

    def typed_identity(self, name: str) -> Next:
        # typed, or read from the ID card: the certification's own face check proves it
        self.typed_name = name
        return self.ask_residence(Case(Person(self.typed_id, name), None, False))

    def identified(self, who: Identity) -> Next:
        # A face identity of an earlier service gives the person; this face check proves it again.
        return self.ask_residence(Case(Person(who.id_number, who.name), who.assurance if who.by_card else None,
                                       who.by_card))


class PensionAuth(CertifySelf):
    service_id = "pension_auth"
    title = "service.pension_auth.title"
    kind = "pension_certification"


class AnnualReview(CertifySelf):
    service_id = "annual_review"
    title = "service.annual_review.title"
    kind = "annual_review"


class FamilyAuth(Certify):
    """The operator identifies (card, or face), picks a relative from the family account, and the
    relative does the face check; the submission names the operator and the relation."""

    service_id = "family_auth"
    title = "service.family_auth.title"
    kind = "pension_certification"
    family = True
    STAGES = ("identify", "family", "residence", "face", "review", "result")

    def start(self) -> Next:
        return self.refusal() or self.start_identify()

    def identified(self, who: Identity) -> Next:
        self.operator = who
        return Work(then="family", fn=lambda: self.desk.family(who.id_number, who.assurance), message="family.loading",
                    stage="family", timeout_s=self.desk.settings.query_timeout_s + 5, name="family")

    def step_family(self, members: list[FamilyMember]) -> Next:
        if not members:
            return info("family.none.title", "family.none.body", name="family_none")
        self.members = members
        return AskChoice(then="member", title=self.title, stage="family", prompt="family.pick_prompt",
                         options=tuple(Option(f"family.member.{m.shown_relation}", i,
                                              "family.due" if m.certification_due else "family.not_due",
                                              fields={"name": mask_name(m.person.name)})
                                       for i, m in enumerate(members)),
                         columns=2, name="family_members")

    def step_member(self, index: int) -> Next:
        member, who = self.members[index], self.operator
        return self.ask_residence(Case(member.person, None, who.by_card, Person(who.id_number, who.name),
                                       member.relation))
