"""Face identification (ID number + name + liveness + the bureau's face-match verdict, DESIGN.md
"Identity assurance") and the steps the face flows share: ID and name, consent, liveness, the
four pictures, the verdict. With a typed ID nothing personal is shown before a `match`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.liveness import Verdict
from kiosk.screens.entry import IdEntryScreen
from kiosk.screens.face_screens import ConsentScreen, PicturesScreen
from kiosk.screens.liveness import LivenessScreen
from kiosk.screens.name_entry import NameEntryScreen
from kiosk.screens.registry import set_face_identifier
from kiosk.screens.steps import run_step, show_error, show_message
from kiosk.services.certification import Person
from kiosk.services.face_check import FaceMatch, FacePictures, LivenessSummary, verify_identity
from kiosk.services.queries import Assurance, QueryFailed

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Captured:
    """A passed liveness check: the four pictures (wiped with the session) and its summary."""

    pictures: FacePictures
    liveness: LivenessSummary


def ask_id_and_name(ui: UI, then: Callable[[Person], None]) -> None:
    """The typed identity: ID number (with its check digit), then the name in pinyin."""

    def got_id(id_number: str) -> None:
        ui.sessions.current().remember("id_number", id_number)
        ui.show(NameEntryScreen(ui, lambda name: got_name(id_number, name)), replace=True)

    def got_name(id_number: str, name: str) -> None:
        ui.sessions.current().remember("name", name)
        then(Person(id_number, name))

    ui.show(IdEntryScreen(ui, got_id), replace=ui.screen.name in ("choice", "identify"))


def capture(ui: UI, consent_body: str, on_captured: Callable[[Captured], None], title_key: str = "liveness.bar",
            ask_consent: bool = True) -> None:
    """Consent (or the counter) -> liveness with its attempts -> the four pictures shown."""

    def start() -> None:
        ui.show(LivenessScreen(ui, live, title_key=title_key), replace=True)

    def live(verdict: Verdict, pictures: FacePictures) -> None:
        captured = Captured(pictures, LivenessSummary.of(verdict))
        ui.show(PicturesScreen(ui, pictures, lambda: on_captured(captured), start), replace=True)

    def declined() -> None:
        log.info("event=face_consent given=0")
        show_message(ui, "consent.declined.title", "consent.declined.body", retry=None, kind="info")

    def agreed() -> None:
        log.info("event=face_consent given=1")
        start()

    if not ask_consent:
        start()
        return
    ui.show(ConsentScreen(ui, consent_body, agreed, declined), replace=True)


def verify(ui: UI, person: Person, captured: Captured, on_result: Callable[[FaceMatch | None], None],
           retake: Callable[[], None], offline_ok: bool) -> None:
    """The bureau's verdict on the pictures. `match` goes on; poor pictures may be taken again;
    any other verdict ends at the counter. Offline gives None when the caller can queue."""
    timeout = float(ui.services.cfg["sync.query_timeout_s"])

    def work() -> FaceMatch:
        return verify_identity(ui.services.sync.query, person.id_number, person.name, captured.pictures,
                               captured.liveness, timeout)

    def failed(exc: BaseException) -> None:
        if offline_ok and isinstance(exc, QueryFailed) and exc.reason == "query.error.offline":
            log.info("event=face_match_offline queued=1")
            on_result(None)
            return
        show_error(ui, exc, retry=lambda: verify(ui, person, captured, on_result, retake, offline_ok))

    def done(match: FaceMatch) -> None:
        if match.matched:
            on_result(match)
        elif match.verdict == "poor_quality":
            show_message(ui, "face.poor_quality.title", "face.poor_quality.body", retry=retake)
        else:
            show_message(ui, f"face.{match.verdict}.title", f"face.{match.verdict}.body", retry=None)

    run_step(ui, "face.verifying", work, on_ok=done, on_error=failed, timeout_s=timeout + 5, name="verify")


def identify_by_face(ui: UI, then: Callable[[str, str, Assurance, bool], None]) -> None:
    """The face identifier (registry.set_face_identifier): what query_flows.identify offers beside the card."""

    def typed(person: Person) -> None:
        def shoot(ask_consent: bool = True) -> None:
            capture(ui, "consent.body_self", lambda cap: verify(ui, person, cap, matched,
                                                                lambda: shoot(False), offline_ok=False),
                    title_key="face.bar", ask_consent=ask_consent)

        def matched(match: FaceMatch | None) -> None:
            assert match is not None  # offline_ok=False: offline ends in a message
            then(person.id_number, person.name, Assurance("face_match", verification_id=match.verification_id),
                 False)

        shoot()

    ask_id_and_name(ui, typed)


set_face_identifier(identify_by_face)
