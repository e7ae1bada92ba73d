"""The frame around every screen: top bar (title, online state, language, care mode), bottom bar
(call staff, home, countdown) and the overlays (inactivity prompt, notices)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygame

from kiosk.screens.theme import COLORS
from kiosk.screens.widgets import Button
from kiosk.services.session import Phase

if TYPE_CHECKING:
    from kiosk.screens.shell import UI


def build_bars(ui: UI) -> None:
    th = ui.theme
    w, h = ui.surface.get_size()
    m = th.margin
    bh = th.top_row_h - 2 * th.px(14)
    top = th.top_bar_h - th.top_row_h + th.px(14)
    other = "en" if ui.lang == "zh_CN" else "zh_CN"
    # each button as wide as its words need at the floor of the mode, so the title beside them has
    # room in care mode on a small landscape screen (1280x800) too
    lang_key, care_key = f"lang.switch_to.{other}", "care.off" if ui.sessions.care_mode else "care.on"
    lw, cw = _bar_button_w(ui, lang_key), _bar_button_w(ui, care_key)
    lang = Button(pygame.Rect(w - m - lw, top, lw, bh), lang_key, lambda: ui.set_language(other), "secondary",
                  name="lang")
    care = Button(pygame.Rect(w - m - lw - m // 2 - cw, top, cw, bh), care_key, ui.toggle_care_mode,
                  "secondary", name="care")
    y = h - th.bottom_bar_h + th.px(16)
    bh2 = th.bottom_bar_h - 2 * th.px(16)
    staff = Button(pygame.Rect(m, y, th.px(420), bh2), "staff.call", ui.call_staff, "staff",
                   name="staff")
    buttons = [lang, care] if ui.screen.offers_staff else [lang, care, staff]
    if getattr(ui.screen, "technician", False):  # a technician's page: no large text, language or call staff for citizens
        buttons = []
    if not ui.screen.is_home and not ui.screen.offers_home:
        buttons.append(Button(pygame.Rect(w - m - th.px(360), y, th.px(360), bh2), "nav.home",
                              lambda: ui.go_home("cancel"), "secondary", name="home"))
    slot = pygame.Rect(w - m - th.px(360) - th.px(24) - th.px(360), y, th.px(360), bh2)
    if ui.screen.flow_back is not None:  # the flow says going back is safe here
        buttons.append(Button(slot, "flow.back", ui.screen.flow_back, "secondary", name="back"))
    elif ui.screen.flow_another is not None:  # a result, the citizen still identified
        buttons.append(Button(slot, "flow.another", ui.screen.flow_another, "secondary", name="another"))
    ui.bar_buttons = buttons


def draw_bars(ui: UI, surf: pygame.Surface) -> None:
    th = ui.theme
    w, h = surf.get_size()
    pygame.draw.rect(surf, COLORS["bar"], (0, 0, w, th.top_bar_h))
    # Landscape: the title ends before the online indicator that sits left of the buttons.
    title_w = w - 2 * th.margin if th.portrait else _buttons_left(ui) - _online_width(ui) - 2 * th.margin
    title = ui.t(ui.screen.title_key)
    if ui.screen.flow_indicator is not None:  # 第 2 步，共 5 步
        n, of = ui.screen.flow_indicator
        title = f"{title} · {ui.t('flow.step', n=n, of=of)}"
    size, lines = ui.text.fit(title, th.font_px("title"), title_w, 1, bold=True)
    ui.draw_lines(surf, lines, size, COLORS["on_bar"], th.margin, (th.top_row_h - size) // 2 - th.px(6),
                  bold=True, align="left")
    _draw_online(ui, surf)
    pygame.draw.rect(surf, COLORS["surface"], (0, h - th.bottom_bar_h, w, th.bottom_bar_h))
    pygame.draw.line(surf, COLORS["tile_border"], (0, h - th.bottom_bar_h), (w, h - th.bottom_bar_h),
                     max(1, th.px(2)))
    now = ui.clock.monotonic()
    prompting = ui.sessions.phase(now) is Phase.PROMPTING
    if ui.sessions.session is not None and ui.screen.in_session and not ui.screen.is_home and not prompting \
            and not ui.screen.own_countdown:
        left = int(ui.sessions.seconds_left(now) - ui.sessions.countdown_s + 0.999)
        left = max(left, 0)
        # between the buttons of the bar: call staff on the left, home (and back) on the right
        footer = [b.rect for b in ui.bar_buttons if b.rect.y >= h - th.bottom_bar_h]
        x0 = max([r.right for r in footer if r.centerx < w // 2], default=0) + th.px(20)
        x1 = min([r.x for r in footer if r.centerx >= w // 2], default=w) - th.px(20)
        area = pygame.Rect(x0, h - th.bottom_bar_h + th.px(3), max(0, x1 - x0), th.bottom_bar_h - th.px(6))
        short = th.portrait or ui.text.font(th.font_px("small")).size(ui.t("session.countdown", seconds=left))[0] \
            > area.width
        key = "session.countdown_short" if short else "session.countdown"
        size, lines = ui.text.fit(ui.t(key, seconds=left), th.font_px("small"), area.width, 2, height=area.height)
        tall = len(lines) * int(size * 1.25)  # in the middle of the bar
        ui.draw_text(surf, key, "small", COLORS["muted"], pygame.Rect(area.x, area.centery - tall // 2, area.width, tall),
                     max_lines=2, seconds=left)
    for b in ui.bar_buttons:
        b.draw(ui, surf)


def _bar_button_w(ui: UI, key: str) -> int:
    """A top-bar button: its words at the floor and the button's padding, no wider than the theme's."""
    th = ui.theme
    words = ui.text.font(ui.text.floor, True).size(ui.t(key))[0]
    return min(th.bar_button_w, max(th.px(200), words + th.px(40)))


def _buttons_left(ui: UI) -> int:
    """Where the top bar's buttons begin (with the gap before them), in landscape."""
    th = ui.theme
    xs = [b.rect.x for b in ui.bar_buttons if b.rect.bottom <= th.top_bar_h]
    return min(xs, default=ui.surface.get_width()) - th.margin // 2


def _online_width(ui: UI) -> int:
    """Room the online indicator takes in a landscape top bar: its text, the gap and the dot."""
    bureau = ui.health.get("bureau")
    if bureau is None:
        return 0
    th = ui.theme
    text_w = ui.text.font(th.font_px("small")).size(ui.t("net.online" if bureau.usable else "net.offline"))[0]
    return text_w + th.px(40) + th.px(36)


def _draw_online(ui: UI, surf: pygame.Surface) -> None:
    bureau = ui.health.get("bureau")
    if bureau is None:
        return
    th = ui.theme
    online = bureau.usable
    key = "net.online" if online else "net.offline"
    size = th.font_px("small")
    img = ui.text.render(ui.t(key), size, COLORS["on_bar"])
    if th.portrait:  # second row, left of the buttons
        x, y = th.margin + th.px(40), th.top_bar_h - th.top_row_h // 2
    else:
        x, y = _buttons_left(ui) - img.get_width() - th.px(40), th.top_bar_h // 2
    # Shape as well as colour: a filled dot when online, a hollow ring when not.
    pygame.draw.circle(surf, (80, 200, 120) if online else COLORS["on_bar"], (x - th.px(24), y),
                       th.px(12), 0 if online else max(2, th.px(3)))
    ui.text.blit(surf, ui.t(key), size, COLORS["on_bar"], role="small", midleft=(x, y))


def overlay_buttons(ui: UI) -> list[Button] | None:
    """While the inactivity prompt shows, only its button (and call staff) can be tapped."""
    if ui.sessions.phase(ui.clock.monotonic()) is Phase.PROMPTING and not ui.screen.is_home:
        th = ui.theme
        _w, _h = ui.surface.get_size()
        box = _prompt_box(ui)
        bw = min(box.width - 2 * th.margin, th.px(520))
        cont = Button(pygame.Rect(box.centerx - bw // 2, box.bottom - th.margin - th.button_h, bw,
                                  th.button_h), "session.continue", lambda: ui.sessions.touch(ui.clock.monotonic()),
                      "primary", name="continue")
        staff = [b for b in ui.bar_buttons if b.name == "staff"]
        return [cont, *staff]
    return None


def _prompt_box(ui: UI) -> pygame.Rect:
    th = ui.theme
    w, h = ui.surface.get_size()
    bw, bh = min(w - 2 * th.margin, th.px(1100)), th.px(560) + (th.px(80) if th.care_mode else 0)
    return pygame.Rect((w - bw) // 2, (h - bh) // 2, bw, bh)


def draw_overlays(ui: UI, surf: pygame.Surface) -> None:
    th = ui.theme
    now = ui.clock.monotonic()
    buttons = overlay_buttons(ui)
    if buttons is not None:
        scrim = pygame.Surface(surf.get_size(), pygame.SRCALPHA)
        scrim.fill((0, 0, 0, 150))
        surf.blit(scrim, (0, 0))
        _cover(ui)
        box = _prompt_box(ui)
        pygame.draw.rect(surf, COLORS["surface"], box, border_radius=th.radius)
        inner = box.inflate(-2 * th.margin, -2 * th.margin)
        y = ui.draw_text(surf, "session.still_there", "title", COLORS["text"], inner, 2, bold=True)
        left = int(ui.sessions.seconds_left(now) + 0.999)
        ui.draw_text(surf, "session.going_home", "body", COLORS["text"],
                     pygame.Rect(inner.x, y + th.px(20), inner.width, inner.height), 3, seconds=left)
        for b in buttons:  # the prompt's button and call staff stay bright above the scrim
            b.draw(ui, surf)
    if ui.toast is not None:
        key, _until = ui.toast
        w, h = surf.get_size()
        width = w - 2 * th.margin  # as tall as its words need at the size of the mode (care: 3 lines)
        size, lines = ui.text.fit(ui.t(key), th.font_px("body"), width - th.margin, 3, bold=True)
        tall = len(lines) * int(size * 1.25) + th.px(40)
        box = pygame.Rect(th.margin, h - th.bottom_bar_h - th.px(30) - tall, width, tall)
        _cover(ui)
        pygame.draw.rect(surf, COLORS["ok"], box, border_radius=th.radius)
        ui.draw_text(surf, key, "body", COLORS["on_ok"], box.inflate(-th.margin, -th.px(40)), 3, bold=True)


def _cover(ui: UI) -> None:
    """A panel over the screen: the text drawn next lies over the screen's, on purpose."""
    if ui.text.log is not None:
        ui.text.log.cover()


def draw_dimmed(ui: UI, surf: pygame.Surface) -> None:
    """The idle screen: dark, with one line inviting a touch (presence or a touch wakes it)."""
    th = ui.theme
    scrim = pygame.Surface(surf.get_size(), pygame.SRCALPHA)
    scrim.fill((0, 0, 0, 200))
    surf.blit(scrim, (0, 0))
    _cover(ui)
    w, h = surf.get_size()
    ui.draw_text(surf, "idle.touch_to_start", "title", COLORS["on_bar"],
                 pygame.Rect(th.margin, h // 2 - th.px(60), w - 2 * th.margin, th.px(200)), 2, bold=True)
