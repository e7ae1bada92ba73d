"""Card requests that start from the citizen's face rather than the card: report a card lost
(temporarily) and apply for a new card (outlet, ID photo, phone, confirm)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pygame

from kiosk.domain.masking import mask_name
from kiosk.screens.base import Screen
from kiosk.screens.card_flows import after_receipt, receipt_context
from kiosk.screens.common import Action, Choice, ChoiceScreen, MessageScreen
from kiosk.screens.entry import _draw_error, _split
from kiosk.screens.registry import face_identifier, flow
from kiosk.screens.steps import run_step, show_error, show_message
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button, Keypad
from kiosk.services.queries import Assurance, QueryFailed

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)
LOSS_REPORT_DAYS = 30  # a temporary loss report lapses unless made permanent at a counter


def by_face(ui: UI, then: Callable[[str, str, Assurance, bool], None]) -> None:
    face = face_identifier()
    if face is None:
        show_message(ui, "request.no_face.title", "request.no_face.body", retry=None)
        return
    face(ui, then)


# ------------------------------------------------------------------------------------ report lost
@flow("report_lost")
def report_lost(ui: UI) -> None:
    def identified(id_number: str, name: str, assurance: Assurance, _card: bool) -> None:
        def status() -> str | None:
            try:
                return ui.services.queries.card_status(id_number, assurance)
            except QueryFailed as exc:
                if exc.reason == "query.error.offline":
                    return None
                raise

        run_step(ui, "card.activate.checking", status, on_ok=lambda st: confirm(id_number, name, assurance, st),
                 timeout_s=ui.services.cfg["sync.query_timeout_s"] + 5, name="card_status")

    def confirm(id_number: str, name: str, assurance: Assurance, status: str | None) -> None:
        if status == "reported_lost":
            show_message(ui, "lost.already.title", "lost.already.body", retry=None, kind="info")
            return
        if status in ("none", "cancelled"):
            show_message(ui, "lost.no_card.title", "lost.no_card.body", retry=None, kind="info")
            return
        until = dt.date.today() + dt.timedelta(days=LOSS_REPORT_DAYS)
        body = "lost.confirm.offline" if status is None else "lost.confirm.body"
        ui.show(MessageScreen(ui, "lost.confirm.title", body, [
            Action("lost.confirm.yes", lambda: submit(id_number, name, assurance, until), "danger", "confirm-loss"),
            Action("nav.cancel", lambda: ui.go_home("cancel"), "secondary", "cancel")], kind="info",
            name="confirm_loss", until=until.isoformat(), days=LOSS_REPORT_DAYS), replace=True)

    def submit(id_number: str, name: str, assurance: Assurance, until: dt.date) -> None:
        def work() -> Any:
            data = {"loss_type": "temporary", "assurance": assurance.to_json()}
            return ui.services.submit("card_loss_report", {"id_number": id_number, "name": name}, data)

        def done(sub: Any) -> None:
            from kiosk.services import receipts

            body = "lost.done.queued" if sub.queued_offline else "lost.done.body"
            after_receipt(ui, "lost.done.title", body, sub.reference,
                          lambda: receipts.card_loss(receipt_context(ui), id_number=id_number, name=name,
                                                     reference=sub.reference, expires=until,
                                                     queued=sub.queued_offline),
                          card=False, until=until.isoformat())

        run_step(ui, "lost.working", work, on_ok=done, timeout_s=30, name="report_lost")

    by_face(ui, identified)


# ------------------------------------------------------------------------------------ photo
class PhotoScreen(Screen):
    """A mirrored live preview with a head-and-shoulders guide; the photo is checked on a worker
    and the citizen sees why it was refused, or the accepted crop, and can retake."""

    name = "id_photo"
    title_key = "photo.bar"

    def __init__(self, ui: UI, on_photo: Callable[[bytes], None]) -> None:
        super().__init__(ui)
        self.on_photo = on_photo
        self.latest: Any = None
        self.problems: tuple[str, ...] = ()
        self.accepted: bytes = b""
        self.checking = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="photo-preview", daemon=True)
        self._thread.start()
        ui.register_wipe(self._wipe)

    def _pump(self) -> None:
        camera = self.ui.services.devices.camera
        try:
            for frame in camera.frames():
                if self._stop.is_set():
                    break
                self.latest = frame.rgb
                self._stop.wait(1 / 15)
        except Exception as exc:  # a camera that fails shows up in its health; say so here too
            log.warning("event=photo_preview_failed error=%r", exc)

    def _wipe(self) -> None:
        self._stop.set()
        self.latest, self.accepted = None, b""

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        self.preview_rect, side = _split(area, th.portrait, th.margin)
        bh = th.button_h
        if self.accepted:
            self.buttons += [Button(pygame.Rect(side.x, side.bottom - 2 * bh - th.px(16), side.width, bh),
                                    "photo.use", self._use, "primary", name="use-photo"),
                             Button(pygame.Rect(side.x, side.bottom - bh, side.width, bh), "photo.retake",
                                    self._retake, "secondary", name="retake")]
        else:
            self.buttons.append(Button(pygame.Rect(side.x, side.bottom - bh, side.width, bh), "photo.take",
                                       self._take, "primary", enabled=not self.checking, name="take-photo"))
        self.side = side

    def _take(self) -> None:
        if self.latest is None or self.checking:
            return
        frame = self.latest.copy()
        self.checking = True
        self.layout(self.area)
        self.ui.workers.submit("photo_check", _checker(self.ui).check, frame,
                               session=self.ui.sessions.current().token, on_done=self._checked)

    def _checked(self, job: Any) -> None:
        self.checking = False
        if job.error is not None:
            self.problems = ("photo.problem.failed",)
        else:
            result = job.result()
            self.problems, self.accepted = result.problems, result.crop if result.ok else b""
        self.layout(self.area)

    def _retake(self) -> None:
        self.accepted, self.problems = b"", ()
        self.layout(self.area)

    def _use(self) -> None:
        self._stop.set()
        self.on_photo(self.accepted)

    def draw(self, surf: pygame.Surface) -> None:
        ui, th, p = self.ui, self.ui.theme, self.preview_rect
        pygame.draw.rect(surf, COLORS["text"], p, border_radius=th.radius)
        image = self._accepted_surface() if self.accepted else self._live_surface()
        if image is not None:
            scale = min(p.width / image.get_width(), p.height / image.get_height())
            image = pygame.transform.smoothscale(image, (int(image.get_width() * scale),
                                                         int(image.get_height() * scale)))
            surf.blit(image, image.get_rect(center=p.center))
        if not self.accepted:  # the guide: where the head goes
            oval = pygame.Rect(0, 0, int(p.height * 0.42), int(p.height * 0.56))
            oval.center = (p.centerx, p.centery - p.height // 12)
            pygame.draw.ellipse(surf, (255, 255, 255), oval, max(3, th.px(5)))
        y = ui.draw_text(surf, "photo.accepted" if self.accepted else "photo.prompt", "body", COLORS["text"],
                         pygame.Rect(self.side.x, self.side.y, self.side.width, th.px(260)), 5, align="left")
        if self.problems:
            box = pygame.Rect(self.side.x, y + th.px(20), self.side.width, th.px(90) * min(3, len(self.problems)) +
                              th.px(40))
            _draw_error(ui, surf, box, self.problems[0])
            ui.draw_text(surf, "photo.retry_hint", "small", COLORS["muted"],
                         pygame.Rect(box.x, box.bottom + th.px(10), box.width, th.px(90)), 2, align="left")
        if self.checking:
            ui.draw_text(surf, "photo.checking", "body", COLORS["primary"],
                         pygame.Rect(self.side.x, y + th.px(20), self.side.width, th.px(60)), 1, align="left")
        super().draw(surf)

    def _live_surface(self) -> pygame.Surface | None:
        if self.latest is None:
            return None
        mirrored = np.ascontiguousarray(self.latest[:, ::-1])  # a mirror: people expect to see themselves so
        return pygame.surfarray.make_surface(mirrored.swapaxes(0, 1))

    def _accepted_surface(self) -> pygame.Surface | None:
        import io

        try:
            return pygame.image.load(io.BytesIO(self.accepted), "photo.jpg")
        except pygame.error:
            return None


_CHECKERS: dict[int, Any] = {}


def _checker(ui: UI) -> Any:
    from kiosk.services.id_photo import IdPhotoChecker

    key = id(ui.services)
    if key not in _CHECKERS:
        _CHECKERS[key] = IdPhotoChecker.from_config(ui.services.cfg)
    return _CHECKERS[key]


class PhoneScreen(Screen):
    """A mobile number for the card's pick-up notice: digits shown (not secret), 11 of them."""

    name = "phone"
    title_key = "apply.phone_title"

    def __init__(self, ui: UI, on_done: Callable[[str], None]) -> None:
        super().__init__(ui)
        self.on_done = on_done
        self.keypad: Keypad | None = None

    def layout(self, area: pygame.Rect) -> None:
        old = bytes(self.keypad.buffer) if self.keypad else b""
        super().layout(area)
        th = self.ui.theme
        self.info, pad = _split(area, th.portrait, th.margin)
        keypad = self.keypad = Keypad(self.ui, pad, 11)
        keypad.buffer += old
        self.buttons += keypad.buttons
        self.next = Button(pygame.Rect(self.info.x, self.info.bottom - th.button_h, self.info.width, th.button_h),
                           "id_entry.confirm", lambda: self.on_done(keypad.value), "primary", name="confirm")
        self.buttons.append(self.next)

    def update(self, now: float) -> None:
        value = self.keypad.value if self.keypad else ""
        self.next.enabled = len(value) == 11 and value.startswith("1")

    def draw(self, surf: pygame.Surface) -> None:
        ui, th = self.ui, self.ui.theme
        y = ui.draw_text(surf, "apply.phone_prompt", "body", COLORS["text"], self.info, 3, align="left")
        field = pygame.Rect(self.info.x, y + th.px(16), self.info.width, th.px(120))
        pygame.draw.rect(surf, COLORS["surface"], field, border_radius=th.radius)
        pygame.draw.rect(surf, COLORS["primary"], field, width=max(2, th.px(4)), border_radius=th.radius)
        value = self.keypad.value if self.keypad else ""
        if value:
            shown = " ".join(p for p in (value[:3], value[3:7], value[7:]) if p)
            img = ui.text.render(shown, th.font_px("huge"), COLORS["text"], bold=True)
            surf.blit(img, img.get_rect(midleft=(field.x + th.px(24), field.centery)))
        super().draw(surf)


# ------------------------------------------------------------------------------------ apply
@flow("apply_card")
def apply_card(ui: UI) -> None:
    from kiosk.services.reference import load_outlets

    state: dict[str, Any] = {}

    def identified(id_number: str, name: str, assurance: Assurance, _card: bool) -> None:
        state.update(id_number=id_number, name=name, assurance=assurance)
        ui.sessions.current().remember("application", state)
        listing = load_outlets(ui.services.cfg["kiosk.data_dir"])
        if not listing.outlets:
            show_message(ui, "apply.no_outlets.title", "apply.no_outlets.body", retry=None)
            return
        local = listing.in_city(ui.services.cfg["kiosk.region_code"]) or listing.outlets
        choices = [Choice("apply.outlet", o.outlet_id, "apply.outlet_hint",
                          fields={"name": o.name, "address": o.address}) for o in local[:6]]
        state["outlets"] = {o.outlet_id: o for o in local}
        ui.show(ChoiceScreen(ui, "apply.bar", "apply.pick_outlet", choices, picked, columns=1, name="pick_outlet"),
                replace=True)

    def picked(outlet_id: str) -> None:
        state["outlet"] = state["outlets"][outlet_id]
        ui.show(ChoiceScreen(ui, "apply.bar", "apply.pick_reason",
                             [Choice(f"apply.reason.{r}", r) for r in ("first_issue", "replacement", "renewal")],
                             reasoned, columns=1, name="pick_reason"))

    def reasoned(reason: str) -> None:
        state["reason"] = reason
        ui.show(PhotoScreen(ui, photographed))

    def photographed(jpeg: bytes) -> None:
        state["photo"] = jpeg
        ui.show(PhoneScreen(ui, phoned), replace=True)

    def phoned(phone: str) -> None:
        state["phone"] = phone
        outlet = state["outlet"]
        ui.show(MessageScreen(ui, "apply.confirm.title", "apply.confirm.body", [
            Action("apply.confirm.yes", submit, "primary", "confirm-apply"),
            Action("nav.cancel", lambda: ui.go_home("cancel"), "secondary", "cancel")], kind="info",
            name="confirm_apply", name_masked=mask_name(state["name"]), outlet=outlet.name,
            address=outlet.address, phone=phone[:3] + "****" + phone[-4:],
            reason=ui.t(f"apply.reason.{state['reason']}")), replace=True)

    def submit() -> None:
        outlet = state["outlet"]

        def work() -> Any:
            data = {"outlet_id": outlet.outlet_id, "reason": state["reason"], "phone": state["phone"],
                    "assurance": state["assurance"].to_json()}
            picture = [{"role": "card_photo", "jpeg_b64": base64.b64encode(state["photo"]).decode()}]
            return ui.services.submit("card_application", {"id_number": state["id_number"], "name": state["name"]},
                                      data, picture)

        def done(sub: Any) -> None:
            from kiosk.services import receipts

            body = "apply.done.queued" if sub.queued_offline else "apply.done.body"
            after_receipt(ui, "apply.done.title", body, sub.reference,
                          lambda: receipts.card_application(receipt_context(ui), id_number=state["id_number"],
                                                            name=state["name"], reference=sub.reference,
                                                            outlet=outlet.name, queued=sub.queued_offline),
                          card=False, outlet=outlet.name)

        run_step(ui, "apply.working", work, on_ok=done, on_error=lambda e: show_error(ui, e), timeout_s=30,
                 name="apply")

    by_face(ui, identified)
