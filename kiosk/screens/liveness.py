"""The liveness screen: the mirrored live preview with a face-oval guide, the current instruction in
large text and by voice, progress 1/3 2/3 3/3, the chances left and the attempt's countdown (frame
time; the only countdown on screen: the footer's inactivity countdown is not drawn), then a clear
retry with the attempts left, or a referral to the counter after the last attempt."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pygame

from kiosk.screens.base import Screen
from kiosk.screens.theme import COLORS
from kiosk.screens.voice import voice_for
from kiosk.screens.widgets import Button
from kiosk.services.face_check import GUIDANCE_KEYS, Event, FaceCheck, LivenessSettings

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

log = logging.getLogger(__name__)

SPOKEN = ("liveness.get_ready", "liveness.cue", "liveness.good", *(f"liveness.guidance.{k}" for k in GUIDANCE_KEYS))
OVAL_W, OVAL_H = 0.40, 0.74  # the guide's share of the preview: where a face at a good distance sits


def frame_surface(rgb: np.ndarray, size: tuple[int, int]) -> pygame.Surface:
    """An RGB camera frame as a mirrored surface of `size` (people expect to see a mirror)."""
    h, w = rgb.shape[:2]
    raw = pygame.image.frombuffer(np.ascontiguousarray(rgb).tobytes(), (w, h), "RGB")
    return pygame.transform.smoothscale(pygame.transform.flip(raw, True, False), size)


class LivenessScreen(Screen):
    name = "liveness"
    title_key = "liveness.bar"
    # One countdown: the attempt's own. The session never times out while the check runs (update
    # touches it), so the footer's "no touch for 60 s" would only stand still beside it.
    own_countdown = True

    def __init__(self, ui: UI, check: FaceCheck, attempt: int = 1, title_key: str = "liveness.bar") -> None:
        """check: the flow's running check (its CheckLiveness work runs it); this shows it."""
        super().__init__(ui)
        self.check, self.attempt, self.title_key = check, attempt, title_key
        self.settings = LivenessSettings.from_config(ui.services.cfg)
        self.attempts, self.total = self.settings.attempts, self.settings.openings
        ui.register_wipe(self.check.cancel)
        self.guidance = ""
        self.cue_active = False
        self.openings = 0
        self.captures = 0
        self.running = True
        self.events: list[str] = []  # kinds seen, for tests and the log
        self._spoken = ""
        self._preview: pygame.Surface | None = None
        self._preview_of: Any = None
        self.scrim: pygame.Surface | None = None
        self.voice = getattr(ui, "voice", None) or voice_for(ui.services.cfg)
        self.voice.prepare((ui.lang, ui.t(k, total=self.total)) for k in SPOKEN)
        log.info("event=liveness_start attempt=%d of=%d", attempt, self.attempts)

    # -- layout and drawing -------------------------------------------------------------------------
    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        # The picture (4:3) leaves the words beside or under it room for their lines at care mode's size.
        if th.portrait:
            ph = min(area.width * 3 // 4, int(area.height * 0.48))
            self.preview = pygame.Rect(0, area.y, ph * 4 // 3, ph)
            self.preview.centerx = area.centerx
            self.panel = pygame.Rect(area.x, self.preview.bottom + th.margin, area.width,
                                     area.bottom - self.preview.bottom - th.margin)
        else:
            ph = min(area.height, int(area.width * 0.5) * 3 // 4)
            self.preview = pygame.Rect(area.x, area.y, ph * 4 // 3, ph)
            self.panel = pygame.Rect(self.preview.right + th.margin, area.y,
                                     area.right - self.preview.right - th.margin, area.height)
        p = self.preview
        # The instruction (the cue among them) has one place: a banner at the bottom of the picture,
        # where the citizen is looking, tall enough for the cue's one line or two of any other
        # instruction. The oval (its usual share of the picture, in its usual shape) stays above
        # it, so the banner never covers the face.
        bh = max(int(th.font_px("huge") * 1.5), th.lines_h("title", 2) + th.px(16))
        self.banner = pygame.Rect(p.x, p.bottom - bh, p.width, bh)
        room = self.banner.y - p.y - th.px(12)
        oh = min(int(p.height * OVAL_H), room - th.px(12))
        ow = int(oh * (OVAL_W * p.width) / (OVAL_H * p.height))
        self.oval = pygame.Rect(0, 0, ow, oh)
        self.oval.center = (p.centerx, min(p.centery - p.height // 40, p.y + th.px(12) + room // 2))
        self.scrim = scrim = pygame.Surface(p.size, pygame.SRCALPHA)
        scrim.fill((0, 0, 0, 120))  # darken around the oval: the eye goes where the face belongs
        pygame.draw.ellipse(scrim, (0, 0, 0, 0), self.oval.move(-p.x, -p.y))
        self._preview_of = None
        w = min(self.panel.width, th.px(520))
        self.cancel_button = Button(pygame.Rect(self.panel.right - w, self.panel.bottom - th.button_h, w,
                                                th.button_h),
                                    "liveness.cancel", lambda: self.ui.go_home("cancel"), "secondary", name="cancel")
        self.buttons.append(self.cancel_button)

    @property
    def instruction(self) -> str:
        if self.check.frame() is None:
            return "liveness.camera_starting"
        if self.guidance and self.guidance != "ok":
            return f"liveness.guidance.{self.guidance}"
        if self.cue_active:
            return "liveness.cue"
        if self.openings >= self.total:
            return "liveness.done"
        if self.openings:
            return "liveness.good"
        return "liveness.get_ready"

    @property
    def attempt_key(self) -> str:
        return "liveness.chances_last" if self.attempt >= self.attempts else "liveness.chances_left"

    def draw(self, surf: pygame.Surface) -> None:
        self._draw_preview(surf)
        self._draw_panel(surf)
        super().draw(surf)

    def _draw_preview(self, surf: pygame.Surface) -> None:
        th, p = self.ui.theme, self.preview
        frame = self.check.frame()
        if frame is not None and frame is not self._preview_of:
            self._preview, self._preview_of = frame_surface(frame.rgb, p.size), frame
        if self._preview is not None and frame is not None:
            surf.blit(self._preview, p)
        else:
            pygame.draw.rect(surf, COLORS["text"], p)
        if self.scrim is not None:
            surf.blit(self.scrim, p)
        good = self.guidance == "ok" and frame is not None
        pygame.draw.ellipse(surf, COLORS["ok"] if good else (255, 255, 255), self.oval,
                            th.px(10) if good else th.px(6))
        self._draw_instruction(surf)

    def _draw_instruction(self, surf: pygame.Surface) -> None:
        """The one instruction on screen, in the banner: the cue in large letters on the action
        colour, anything else in two lines at most on white."""
        ui, th, b = self.ui, self.ui.theme, self.banner
        key = self.instruction
        cue = key == "liveness.cue"
        pygame.draw.rect(surf, COLORS["primary"] if cue else COLORS["surface"], b)
        pygame.draw.rect(surf, COLORS["primary"], b, width=max(2, th.px(4)))
        inner = b.inflate(-th.px(24), -th.px(8))
        size, lines = ui.text.fit(ui.t(key), th.font_px("huge" if cue else "title"), inner.width, 1 if cue else 2,
                                  bold=True, height=inner.height)
        height = len(lines) * int(size * 1.25)
        ui.draw_lines(surf, lines, size, COLORS["on_primary"] if cue else COLORS["text"], inner.centerx,
                      inner.centery - height // 2, bold=True, role="huge" if cue else "title", box=inner)

    def _draw_panel(self, surf: pygame.Surface) -> None:
        """The hint, the mouth's count, the chances and the countdown, one under the other. The
        hint has the room the others leave above the Cancel button, each box is as tall as its
        lines, so nothing reaches the button."""
        ui, th, a = self.ui, self.ui.theme, self.panel
        gap, body = th.px(20), th.lines_h("body")
        row = max(2 * th.px(30), body)
        room = self.cancel_button.rect.y - a.y - (gap + row + gap + 2 * body + body + gap)
        y = ui.draw_text(surf, "liveness.hint", "body", COLORS["text"], pygame.Rect(a.x, a.y, a.width, room),
                         max(1, room // body), align="left", total=self.total)
        self._draw_progress(surf, y + gap, row)
        # The chances, in other words than the mouth's count ("张嘴 1 / 3"): never two "3 次" side by side.
        y = ui.draw_text(surf, self.attempt_key, "body", COLORS["text"], pygame.Rect(a.x, y + gap + row, a.width,
                         2 * body), 2, align="left", left=self.attempts - self.attempt)
        ui.draw_text(surf, "liveness.countdown", "body", COLORS["text"], pygame.Rect(a.x, y, a.width, body), 1,
                     bold=True, align="left", seconds=max(0, math.ceil(self.check.remaining_s)))

    def _draw_progress(self, surf: pygame.Surface, top: int, height: int) -> None:
        """Filled marks with a tick for openings done, rings for those to come: not colour alone."""
        ui, th, a = self.ui, self.ui.theme, self.panel
        r = th.px(30)
        cy = top + height // 2
        for i in range(self.total):
            c = (a.x + r + i * (2 * r + th.px(20)), cy)
            if i < self.openings:
                pygame.draw.circle(surf, COLORS["ok"], c, r)
                ui.text.blit(surf, "✓", th.font_px("body"), COLORS["on_ok"], True, role="glyph", center=c)
            else:
                pygame.draw.circle(surf, COLORS["tile_border"], c, r, max(2, th.px(4)))
        x = a.x + self.total * (2 * r + th.px(20)) + th.px(10)
        ui.draw_text(surf, "liveness.progress", "body", COLORS["text"],
                     pygame.Rect(x, cy - th.lines_h("body") // 2, a.right - x, th.lines_h("body")), 1, bold=True,
                     align="left", done=self.openings, total=self.total)

    def release(self) -> None:
        """Off the stack: nobody shows this check's cues any more, so it stops; the preview, its
        frame (a picture of the citizen) and the scrim (together some 8 MB at 1080p) go now, not
        at some later garbage collection."""
        super().release()
        self.check.cancel()
        self.check.drop()
        self._preview = self._preview_of = None
        self.scrim = None

    # -- events ---------------------------------------------------------------------------------------
    def update(self, now: float) -> None:
        for ev in self.check.poll():
            self._on_event(ev)
        if self.running:
            self.ui.sessions.touch(now)  # someone is in front of the camera, busy with the check
        key = self.instruction
        if key != self._spoken and key in SPOKEN:
            self._spoken = key
            self.voice.say(key, self.ui.lang, total=self.total)

    def _on_event(self, ev: Event) -> None:
        self.events.append(ev.kind)
        if ev.kind == "guidance":
            self.guidance = ev.key  # type: ignore[attr-defined]
        elif ev.kind == "cue":
            self.cue_active = True
            self.check.shown(ev)  # drawn this very frame: now the subject (and the camera) may react
        elif ev.kind == "opening":
            self.openings, self.cue_active = ev.index, False  # type: ignore[attr-defined]
        elif ev.kind == "cue_missed":
            self.cue_active = False
        elif ev.kind == "capture":
            self.captures += 1
