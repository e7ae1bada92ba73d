"""The face check every face flow shares: consent, the liveness check with its attempts, the four
pictures shown, and the bureau's verdict on them. `face_checked(match)` gets the verdict (None
when the bureau cannot be reached and the flow may queue: the bureau compares on arrival)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.flows.base import Flow, Next
from kiosk.flows.steps import AskConfirm, AskConsent, AskPictures, CheckLiveness, Work, failed, info
from kiosk.services.face_check import FaceMatch, FacePictures, LivenessSummary
from kiosk.services.queries import QueryFailed

if TYPE_CHECKING:
    from kiosk.liveness import Verdict


log = logging.getLogger(__name__)
FAIL_KEYS = {"no_face": "no_face", "several_faces": "several_faces", "too_dark": "too_dark"}


@dataclass(frozen=True)
class Captured:
    """A passed liveness check: the four pictures (wiped with the session) and its summary."""

    pictures: FacePictures
    liveness: LivenessSummary


class FaceSteps(Flow):
    """Mixin: `capture(...)` -> consent -> liveness -> pictures -> verdict -> face_checked()."""

    def capture(self, consent_body: str, id_number: str, name: str, offline_ok: bool, stage: str = "face",
                ask_consent: bool = True) -> Next:
        self._face = (id_number, name, offline_ok, stage)
        self._attempt = 0
        if not ask_consent:
            return self._liveness()
        return AskConsent(then="consent", title=self.title, stage=stage, body=consent_body)

    def step_consent(self, agreed: bool) -> Next:
        log.info("event=face_consent given=%d", int(agreed))
        if not agreed:
            return info("consent.declined.title", "consent.declined.body", name="consent_declined")
        return self._liveness()

    def _liveness(self) -> Next:
        self._attempt += 1
        check = self.desk.liveness_check()
        self.ctx.remember("liveness_check", check)
        return CheckLiveness(then="live", fn=check.run, check=check, attempt=self._attempt, title=self.title,
                             stage=self._face[3], timeout_s=check.settings.attempt_timeout_s + 30,
                             on_error="liveness_broken")

    def step_liveness_broken(self, exc: BaseException) -> Next:
        log.warning("event=liveness_error error=%s", type(exc).__name__)
        return failed("liveness.error.camera.title", "liveness.error.camera.body", name="liveness_error")

    def step_live(self, verdict: Verdict) -> Next:
        attempts = self.desk.liveness_attempts()
        if verdict.live:
            pictures = FacePictures(verdict.captures)
            self.ctx.remember("pictures", pictures)
            self.captured = Captured(pictures, LivenessSummary.of(verdict))
            return AskPictures(then="pictures", title=self.title, stage=self._face[3], pictures=pictures,
                               back=False)
        if self._attempt < attempts:
            key = f"liveness.fail.{FAIL_KEYS.get(verdict.result, 'motion')}"
            return AskConfirm(then="liveness_again", title=f"{key}.title", body=f"{key}.body", yes="nav.try_again",
                              name="liveness_retry", back=False, stage=self._face[3],
                              fields={"left": attempts - self._attempt, "total": self.desk.liveness_openings()})
        log.info("event=liveness_referred attempts=%d", attempts)
        return failed("liveness.referred.title", "liveness.referred.body", name="liveness_referred",
                      fields={"attempts": attempts})

    def step_liveness_again(self, _yes: bool) -> Next:
        return self._liveness()

    def step_pictures(self, use: bool) -> Next:
        if not use:
            return self._liveness()
        id_number, name, _offline_ok, stage = self._face
        cap = self.captured
        return Work(then="face_verdict", fn=lambda: self.desk.verify_face(id_number, name, cap.pictures, cap.liveness),
                    message="face.verifying", stage=stage, on_error="face_unverified", commits=True,
                    timeout_s=self.desk.settings.query_timeout_s + 5, name="verify")

    def step_face_unverified(self, exc: BaseException) -> Next:
        if self._face[2] and isinstance(exc, QueryFailed) and exc.reason == "query.error.offline":
            log.info("event=face_match_offline queued=1")
            return self.face_checked(None)
        raise exc

    def step_face_verdict(self, match: FaceMatch) -> Next:
        if match.matched:
            return self.face_checked(match)
        if match.verdict == "poor_quality":
            return AskConfirm(then="retake", title="face.poor_quality.title", body="face.poor_quality.body",
                              yes="nav.try_again", name="poor_quality", back=False, stage=self._face[3])
        return failed(f"face.{match.verdict}.title", f"face.{match.verdict}.body", name=f"face_{match.verdict}")

    def step_retake(self, _yes: bool) -> Next:
        self._attempt = 0
        return self._liveness()

    def face_checked(self, match: FaceMatch | None) -> Next:
        raise NotImplementedError
