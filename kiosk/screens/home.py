"""The home screen: the bureau, the hall, today's date and the hotline at the top; the services in
three groups (养老认证 / 社保卡 / 查询打印) under a heading with a pictogram. A tile whose device is
down is disabled and says, plainly, that the service is paused and where to go; which device is
down is for the technician (maintenance pages, the log), never the citizen's screen."""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.i18n.dates import long_date, weekday
from kiosk.screens.base import Screen
from kiosk.screens.home_tile import Tile
from kiosk.screens.pictograms import DRAW
from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button

if TYPE_CHECKING:
    from kiosk.screens.shell import UI

from kiosk.services.catalog import CARE_HOME, SERVICES, CareTile, ServiceSpec, availability, home_groups

log = logging.getLogger(__name__)

# A paused service, in as many words as its tile holds at the size of its mode; the hotline is at
# the top of every home, and in the sentence where a tile has room for it (a group's screen).
PAUSED_CALL = "hall.paused_call"  # 本功能暂停使用，请到窗口办理，或拨打 12333。
PAUSED = "hall.paused"  # the care home's tiles: 本功能暂停使用，/ 请到窗口办理
PAUSED_SHORT = "hall.paused_short"  # a standard home tile: 暂停使用 / 到窗口办理
PAUSED_WORD = "hall.paused_word"  # a tile with no room for more: 暂停使用


def hotline(ui: UI) -> str:
    return str(_cfg(ui, "bureau.hotline", "12333"))


def _cfg(ui: UI, key: str, default: Any) -> Any:
    desk = getattr(ui, "desk", None)
    try:
        return desk.cfg[key] if desk is not None else default
    except KeyError:
        return default


class HomeScreen(Screen):
    name = "home"
    title_key = "home.title"
    is_home = True
    in_session = False

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        self._state = self._availability()
        self._groups: list[tuple[pygame.Rect, Any]] = []
        self._strip = pygame.Rect(area.x, area.y, area.width, self._strip_h())  # after self.area is set
        if self.ui.sessions.care_mode:
            self._care_layout(area)
            return
        th = self.ui.theme
        groups = home_groups()
        top = self._strip.bottom + th.px(14)
        gap, small = th.px(22), th.px(14)
        head_h = max(th.px(64), int(th.font_px("tile") * 1.45))
        if th.portrait:  # groups one under the other, three tiles a row
            sub = 3
            rows = [math.ceil(len(specs) / sub) for _g, specs in groups]
            tile_h = (area.bottom - top - len(groups) * (head_h + small) - gap * (len(groups) - 1)
                      - small * (sum(rows) - len(groups))) // max(1, sum(rows))
            y = top
            for (group, specs), n in zip(groups, rows, strict=True):
                box = pygame.Rect(area.x, y, area.width, head_h + small + n * tile_h + (n - 1) * small)
                self._group(group, specs, box, head_h, sub, tile_h)
                y = box.bottom + gap
        else:  # the groups side by side, two tiles a row
            sub = 2
            cols = len(groups)
            gw = (area.width - gap * (cols - 1)) // cols
            n = max(math.ceil(len(specs) / sub) for _g, specs in groups)
            tile_h = (area.bottom - top - head_h - small - small * (n - 1)) // n
            for i, (group, specs) in enumerate(groups):
                box = pygame.Rect(area.x + i * (gw + gap), top, gw, area.bottom - top)
                self._group(group, specs, box, head_h, sub, tile_h)

    def _group(self, group: Any, specs: tuple[ServiceSpec, ...], box: pygame.Rect, head_h: int, sub: int,
               tile_h: int) -> None:
        th = self.ui.theme
        small = th.px(14)
        self._groups.append((pygame.Rect(box.x, box.y, box.width, head_h), group))
        tw = (box.width - small * (sub - 1)) // sub
        for i, spec in enumerate(specs):
            r, c = divmod(i, sub)
            rect = pygame.Rect(box.x + c * (tw + small), box.y + head_h + small + r * (tile_h + small), tw, tile_h)
            avail = self._state[spec.id]
            self.buttons.append(Tile(
                rect, spec.title_key, partial(self.open, spec), "secondary", enabled=avail.available,
                sublabel=spec.hint_key if avail.available else PAUSED_SHORT, fields={"hotline": hotline(self.ui)},
                name=f"tile-{spec.id}", short=PAUSED_WORD))

    def _strip_h(self) -> int:
        th = self.ui.theme
        return len(self._strip_rows()) * int(th.font_px(self._strip_role()) * 1.3) + th.px(8)

    def _strip_role(self) -> str:
        return "small" if self.ui.sessions.care_mode else "body"  # care mode: its large tiles keep their room

    def _strip_rows(self) -> list[tuple[str, str]]:
        """Where am I, what day is it, whom can I call: one line (the bureau and the hall on the
        left; the date, the weekday, the time and the hotline on the right) when it fits, else
        two (bureau / date and time, hall / hotline); a name too long for its room is left out
        rather than drawn small."""
        ui, th = self.ui, self.ui.theme
        en = ui.lang == "en"
        bureau = str(_cfg(ui, "kiosk.bureau_name_en" if en else "kiosk.bureau_name", ""))
        hall = str(_cfg(ui, "kiosk.hall_name_en" if en else "kiosk.hall_name", ""))
        call = ui.t("hall.hotline", hotline=hotline(ui))
        now = ui.desk.now() if getattr(ui, "desk", None) is not None else None
        today = ""
        if now is not None:
            today = ui.t("hall.today", date=long_date(now.date(), ui.lang), weekday=weekday(now.date(), ui.lang)) \
                + f"  {now:%H:%M}"
        font = ui.text.font(th.font_px(self._strip_role()), True)
        width, gap = self.area.width, th.px(30)

        def fits(left: str, right: str) -> bool:
            return font.size(left)[0] + gap + font.size(right)[0] <= width

        names = " · ".join(n for n in (bureau, hall) if n)
        one = "   ".join(t for t in (today, call) if t)
        if fits(names, one):
            return [(names, one)]
        if ui.sessions.care_mode and not th.portrait and fits("", one):  # its large tiles keep their room
            return [(hall if fits(hall, one) else "", one)]
        rows = [(bureau, today), (hall, call)]
        return [(left if fits(left, right) else "", right) for left, right in rows if left or right]

    @property
    def offers_staff(self) -> bool:  # type: ignore[override]
        return self.ui.sessions.care_mode  # the care home has call staff as a tile of its own

    def _care_layout(self, area: pygame.Rect) -> None:
        """长辈模式: four large tiles with pictograms for the most used services, and call staff."""
        th = self.ui.theme
        top = self._strip.bottom + th.px(14)
        cols, rows = (2, 3) if th.portrait else (3, 2)
        gap = th.px(26)
        tw = (area.width - gap * (cols - 1)) // cols
        tile_h = (area.bottom - top - gap * (rows - 1)) // rows
        for i, tile in enumerate((*CARE_HOME, None)):
            r, c = divmod(i, cols)
            rect = pygame.Rect(area.x + c * (tw + gap), top + r * (tile_h + gap), tw, tile_h)
            if tile is None:  # call staff: where the eye ends, filling the last row
                rect.width = area.right - rect.x
                self.buttons.append(Tile(rect, "staff.call", self.ui.call_staff, "staff", sublabel="care.staff.hint",
                                         name="tile-staff", icon=DRAW["staff"]))
                continue
            usable = [s for s in tile.specs() if self._state[s.id].available]
            self.buttons.append(Tile(rect, tile.title_key, partial(self.open_tile, tile), "secondary",
                                     enabled=bool(usable), sublabel=tile.hint_key if usable else PAUSED,
                                     fields={"hotline": hotline(self.ui)}, short=PAUSED_WORD,
                                     name=f"tile-{tile.id}", icon=DRAW[tile.pictogram]))

    def open_tile(self, tile: CareTile) -> None:
        specs = tile.specs()
        if len(specs) == 1:
            self.open(specs[0])
        else:
            self.ui.show(GroupScreen(self.ui, tile))

    def _availability(self) -> dict:
        state = {s.id: availability(s, self.ui.health) for s in SERVICES}
        before = getattr(self, "_state", None)
        for sid, a in state.items():
            if before is not None and before.get(sid) != a and not a.available:
                # the citizen reads "paused"; the technician reads why, here
                log.info("event=service_paused service=%s device=%s reason=%s", sid, a.device, a.reason)
        return state

    def open(self, spec: ServiceSpec) -> None:
        self.ui.flows.start(self.ui, spec)

    def update(self, now: float) -> None:
        if self._availability() != self._state:
            self.layout(self.area)  # a device came or went: re-enable or disable tiles

    def draw(self, surf: pygame.Surface) -> None:
        self._draw_strip(surf)
        th = self.ui.theme
        for rect, group in self._groups:
            pygame.draw.rect(surf, COLORS["primary"], rect, border_radius=th.radius)
            art = pygame.Rect(rect.x + th.px(16), rect.y + rect.height // 8, rect.height, rect.height * 3 // 4)
            DRAW[group.pictogram](surf, art, COLORS["on_primary"])
            words = pygame.Rect(art.right + th.px(24), rect.y, rect.right - art.right - th.px(32), rect.height)
            size, lines = self.ui.text.fit(self.ui.t(group.title_key), th.font_px("tile"), words.width, 1, bold=True)
            self.ui.draw_lines(surf, lines, size, COLORS["on_primary"], words.x, rect.centery - int(size * 0.65),
                               bold=True, align="left")
        super().draw(surf)

    def _draw_strip(self, surf: pygame.Surface) -> None:
        ui, th, strip = self.ui, self.ui.theme, self._strip
        size = th.font_px(self._strip_role())
        y = strip.y
        for left, right in self._strip_rows():
            if right:
                _line(ui, surf, right, size, strip, topright=(strip.right, y))
            if left:
                _line(ui, surf, left, size, strip, topleft=(strip.x, y))
            y += int(size * 1.3)


def _line(ui: UI, surf: pygame.Surface, text: str, size: int, box: pygame.Rect, **anchor: Any) -> None:
    """One bold line of the strip, through TextRenderer.blit where the renderer has it (the layout
    checks see each line there)."""
    blit = getattr(ui.text, "blit", None)
    if blit is not None:
        blit(surf, text, size, COLORS["text"], True, role="body", box=box, **anchor)
        return
    img = ui.text.render(text, size, COLORS["text"], True)
    surf.blit(img, img.get_rect(**anchor))


class GroupScreen(Screen):
    """The services of one care-mode tile, large, one question: which one?"""

    name = "group"

    def __init__(self, ui: UI, tile: CareTile) -> None:
        super().__init__(ui)
        self.tile, self.title_key = tile, tile.title_key

    def layout(self, area: pygame.Rect) -> None:
        super().layout(area)
        th = self.ui.theme
        specs = self.tile.specs()
        top = area.y + th.px(100)
        cols = 1 if th.portrait else 2
        rows = math.ceil(len(specs) / cols)
        gap = th.px(22)
        tw = (area.width - gap * (cols - 1)) // cols
        tile_h = min(th.px(260), (area.bottom - top - gap * (rows - 1)) // rows)
        for i, spec in enumerate(specs):
            r, c = divmod(i, cols)
            avail = availability(spec, self.ui.health)
            rect = pygame.Rect(area.x + c * (tw + gap), top + r * (tile_h + gap), tw, tile_h)
            self.buttons.append(Button(rect, spec.title_key, partial(self.ui.flows.start, self.ui, spec), "secondary",
                                       enabled=avail.available,
                                       sublabel=spec.hint_key if avail.available else PAUSED_CALL,
                                       fields={"hotline": hotline(self.ui)}, name=f"tile-{spec.id}"))

    def draw(self, surf: pygame.Surface) -> None:
        th = self.ui.theme
        self.ui.draw_text(surf, "care.group_prompt", "body", COLORS["text"],
                          pygame.Rect(self.area.x, self.area.y, self.area.width, th.px(90)), 2, align="left")
        super().draw(surf)
