"""Card requests that start from the citizen's face rather than the card (the card may be lost):
report a card lost for a while, and apply for a new card (outlet, reason, ID photo, phone,
confirmation). Identification is by face only: the typed ID number and name, the liveness check
and the bureau's verdict. The outcome says truthfully whether the bureau has the request yet."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, ClassVar

from kiosk.domain.masking import mask_name
from kiosk.flows.base import Identity, Next
from kiosk.flows.card import storage_refusal
from kiosk.flows.identify import Identify, no_face_outcome
from kiosk.flows.steps import AskChoice, AskConfirm, AskPhone, AskPhoto, Option, Text, Work, done, failed, info, options
from kiosk.flows.steps import pending as pending_outcome
from kiosk.i18n import Translator
from kiosk.services import receipts

LOSS_REPORT_DAYS = 30  # a temporary loss report lapses unless made permanent at a counter
# The bureau's card statuses (kiosk.services.queries) and what a loss report does with each.
ALREADY_LOST = frozenset({"reported_lost"})
NO_CARD = frozenset({"none", "cancelled"})
LOSS_REPORTABLE = frozenset({"active", "not_activated", "blocked", "expired"})
REASONS = ("first_issue", "replacement", "renewal")
MAX_OUTLETS = 6  # the outlet choice shows this many (the kiosk's city first)
JPEG_SOI = b"\xff\xd8"


def loss_rule(status: str | None) -> str:
    """Whether a loss report can be made for a card in this bureau status: "report", "already" or
    "no_card". None (the bureau cannot be reached) may be reported: the bureau decides on arrival."""
    if status in ALREADY_LOST:
        return "already"
    if status in NO_CARD:
        return "no_card"
    if status is None or status in LOSS_REPORTABLE:
        return "report"
    raise ValueError(f"unknown card status {status!r}")


def lapses_on(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=LOSS_REPORT_DAYS)


def phone_ok(phone: Any) -> bool:
    """A mainland mobile number: 11 digits starting with 1."""
    return isinstance(phone, str) and len(phone) == 11 and phone.isdigit() and phone.startswith("1")


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


class FaceRequest(Identify):
    """A request that needs somewhere to store it and a face identification; an earlier face
    identity of the same session is reused (a card identity is not: these work without the card)."""

    IDENTIFY_BY: ClassVar[tuple[str, ...]] = ("idcard", "face")
    submits = True

    def start(self) -> Next:
        refusal = storage_refusal(self)
        if refusal is not None:
            return refusal
        if not self.ctx.camera_ok:
            return no_face_outcome()
        return self.start_identify()

    def who(self) -> Identity:
        assert self.identity is not None, "identified() sets it"
        return self.identity

    def citizen(self) -> dict[str, str]:
        who = self.who()
        return {"id_number": who.id_number, "name": who.name}


# ------------------------------------------------------------------------------------ report lost
class ReportLost(FaceRequest):
    """The card is suspended for LOSS_REPORT_DAYS from when the bureau records the report. The
    lapse date is given only when the kiosk's clock is trusted and the bureau has the report."""

    service_id = "report_lost"
    title = "service.report_lost.title"
    STAGES = ("identify", "confirm", "result")

    def identified(self, who: Identity) -> Next:
        def status() -> tuple[str | None, dt.date | None]:
            return self.desk.card_status(who.id_number, who.assurance), self.desk.trusted_today()

        return Work(then="status", fn=status, message="card.activate.checking", stage="identify", name="card_status",
                    timeout_s=self.desk.settings.query_timeout_s + 5)

    def step_status(self, found: tuple[str | None, dt.date | None]) -> Next:
        status, today = found
        rule = loss_rule(status)
        if rule == "already":
            return info("lost.already.title", "lost.already.body", name="already_lost")
        if rule == "no_card":
            return info("lost.no_card.title", "lost.no_card.body", name="no_card")
        fields: dict[str, Any] = {"days": LOSS_REPORT_DAYS}
        if status is None:  # the bureau cannot be reached: the report waits here, the card is not blocked yet
            body = "lost.confirm.offline"
        elif today is not None:
            body, fields["until"] = "lost.confirm.body", lapses_on(today)  # a date: worded when drawn
        else:  # the kiosk's clock is not trusted: no date
            body = "lost.confirm.undated"
        return AskConfirm(then="confirm", title="lost.confirm.title", body=body, yes="lost.confirm.yes", danger=True,
                          name="confirm_loss", stage="confirm", fields=fields)

    def step_confirm(self, _yes: bool) -> Next:
        citizen = self.citizen()
        data = {"loss_type": "temporary", "assurance": self.who().assurance.to_json()}

        def submit() -> tuple[Any, dt.date | None]:
            return self.desk.submit("card_loss_report", citizen, data), self.desk.trusted_today()

        return Work(then="reported", fn=submit, message="lost.working", commits=True, stage="confirm",
                    name="report_lost", timeout_s=30.0)

    def step_reported(self, result: tuple[Any, dt.date | None]) -> Next:
        sub, today = result
        # the date the report lapses: known only when the bureau has it and the clock is trusted
        until = lapses_on(today) if today is not None and not sub.queued_offline else None
        citizen = self.citizen()

        def receipt() -> Any:
            ctx = self.desk.receipt_context()
            expires = until or Translator(ctx.lang)("lost.receipt.lapse", days=LOSS_REPORT_DAYS)
            return receipts.card_loss(ctx, **citizen, reference=sub.reference, expires=expires,
                                      queued=sub.queued_offline)

        if sub.queued_offline:
            return pending_outcome("lost.pending.title", "lost.pending.body", reference=sub.reference,
                                   receipt=receipt, name="lost_pending")
        if until is not None:
            return done("lost.done.title", "lost.done.body", reference=sub.reference, receipt=receipt,
                        fields={"until": until}, name="lost_done")
        return done("lost.done.title", "lost.done.undated", reference=sub.reference, receipt=receipt,
                    fields={"days": LOSS_REPORT_DAYS}, name="lost_done")


# ------------------------------------------------------------------------------------ apply
class ApplyCard(FaceRequest):
    """A new card: where to collect it, why, an ID photo checked for the card, a phone number for
    the pick-up notice, a confirmation, then the application with the photo."""

    service_id = "apply_card"
    title = "service.apply_card.title"
    STAGES = ("identify", "outlet", "photo", "phone", "confirm", "result")

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._checker: Any = None
        self._outlets: dict[str, Any] = {}

    def identified(self, who: Identity) -> Next:
        return Work(then="outlets", fn=self.desk.outlets, message="apply.loading_outlets", stage="outlet",
                    name="outlets", timeout_s=15.0)

    def step_outlets(self, listing: Any) -> Next:
        if not listing.outlets:
            return failed("apply.no_outlets.title", "apply.no_outlets.body", name="no_outlets")
        local = listing.in_city(self.desk.settings.region_code) or listing.outlets
        self._outlets = {o.outlet_id: o for o in local}
        choices = tuple(Option("apply.outlet", o.outlet_id, "apply.outlet_hint",
                               fields={"name": o.name, "address": o.address}) for o in local[:MAX_OUTLETS])
        return AskChoice(then="outlet", title="apply.bar", stage="outlet", prompt="apply.pick_outlet",
                         options=choices, columns=1, name="pick_outlet")

    def step_outlet(self, outlet_id: str) -> Next:
        self.outlet = self._outlets[outlet_id]
        return AskChoice(then="reason", title="apply.bar", stage="outlet", prompt="apply.pick_reason",
                         options=options([(f"apply.reason.{r}", r) for r in REASONS]), columns=1,
                         name="pick_reason")

    def step_reason(self, reason: str) -> Next:
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        self.reason = reason
        return self.ask_photo()

    def ask_photo(self) -> AskPhoto:
        preview = self.desk.photo_preview()
        self.ctx.on_wipe(preview.stop)
        return AskPhoto(then="photo", title="photo.bar", stage="photo", preview=preview, check=self.check_photo)

    def check_photo(self, rgb: Any) -> Any:
        """The photo screen calls it on a worker: the face engine loads there, once per flow."""
        if self._checker is None:
            self._checker = self.desk.photo_checker()
        return self._checker.check(rgb)

    def step_photo(self, jpeg: bytes) -> Next:
        if not isinstance(jpeg, bytes) or not jpeg.startswith(JPEG_SOI):
            return self.ask_photo()  # not an accepted photo: take it again
        self.photo = jpeg
        self.ctx.remember("card_photo", jpeg)  # the session lets go of it when it ends
        return AskPhone(then="phone", title="apply.phone_title", stage="phone")

    def step_phone(self, phone: str) -> Next:
        if not phone_ok(phone):
            return AskPhone(then="phone", title="apply.phone_title", stage="phone")
        self.phone = phone
        o = self.outlet
        return AskConfirm(then="confirm", title="apply.confirm.title", body="apply.confirm.body",
                          yes="apply.confirm.yes", name="confirm_apply", stage="confirm",
                          fields={"name_masked": mask_name(self.who().name), "outlet": o.name, "address": o.address,
                                  "phone": mask_phone(phone),
                                  "reason": Text(f"apply.reason.{self.reason}")})

    def step_confirm(self, _yes: bool) -> Next:
        citizen = self.citizen()
        data = {"outlet_id": self.outlet.outlet_id, "reason": self.reason, "phone": self.phone,
                "assurance": self.who().assurance.to_json()}
        picture = [{"role": "card_photo", "jpeg_b64": base64.b64encode(self.photo).decode()}]
        return Work(then="applied", fn=lambda: self.desk.submit("card_application", citizen, data, picture),
                    message="apply.working", commits=True, stage="confirm", name="apply", timeout_s=30.0)

    def step_applied(self, sub: Any) -> Next:
        citizen, outlet = self.citizen(), self.outlet.name

        def receipt() -> Any:
            return receipts.card_application(self.desk.receipt_context(), **citizen, reference=sub.reference,
                                             outlet=outlet, queued=sub.queued_offline)

        if sub.queued_offline:
            return pending_outcome("apply.pending.title", "apply.done.queued", reference=sub.reference,
                                   receipt=receipt, fields={"outlet": outlet}, name="apply_pending")
        return done("apply.done.title", "apply.done.body", reference=sub.reference, receipt=receipt,
                    fields={"outlet": outlet}, name="apply_done")
