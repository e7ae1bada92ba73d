"""Pictograms for the care-mode home (长辈模式), drawn by the project with plain shapes so they
scale to any screen and need no font: a person with a tick (pension authentication), a magnifier
over a page (queries), a card with its chip (card services), two people (family), a raised hand
(call staff). Decoration beside the words, never instead of them."""

from __future__ import annotations

from collections.abc import Callable

import pygame

Color = tuple[int, int, int]


def _person(surf: pygame.Surface, color: Color, cx: int, top: int, h: int) -> None:
    r = h // 6
    pygame.draw.circle(surf, color, (cx, top + r), r)
    body = pygame.Rect(0, 0, int(h * 0.62), int(h * 0.5))
    body.midtop = (cx, top + 2 * r + h // 20)
    clip = surf.get_clip()
    surf.set_clip(body.clip(clip) if clip else body)  # the top half of an ellipse: shoulders
    pygame.draw.ellipse(surf, color, pygame.Rect(body.x, body.y, body.width, 2 * body.height))
    surf.set_clip(clip)


def certify(surf: pygame.Surface, rect: pygame.Rect, color: Color) -> None:
    h = rect.height
    _person(surf, color, rect.centerx - h // 5, rect.y, int(h * 0.9))
    w = max(3, h // 12)  # a tick beside the person
    x, y = rect.centerx + h // 6, rect.y + int(h * 0.55)
    pygame.draw.lines(surf, color, False, [(x, y), (x + h // 8, y + h // 8), (x + h // 3, y - h // 6)], w)


def family(surf: pygame.Surface, rect: pygame.Rect, color: Color) -> None:
    h = rect.height
    _person(surf, color, rect.centerx - h // 4, rect.y, int(h * 0.95))
    _person(surf, color, rect.centerx + h // 4, rect.y + h // 6, int(h * 0.75))


def query(surf: pygame.Surface, rect: pygame.Rect, color: Color) -> None:
    h = rect.height
    page = pygame.Rect(0, 0, int(h * 0.6), int(h * 0.8))
    page.topleft = (rect.centerx - int(h * 0.45), rect.y)
    w = max(3, h // 18)
    pygame.draw.rect(surf, color, page, w, border_radius=h // 16)
    for i in range(3):
        y = page.y + int(h * (0.2 + 0.17 * i))
        pygame.draw.line(surf, color, (page.x + h // 10, y), (page.right - h // 10, y), w)
    c, r = (page.right, page.bottom - h // 8), int(h * 0.2)
    pygame.draw.circle(surf, color, c, r, w + 2)
    pygame.draw.line(surf, color, (c[0] + int(r * 0.7), c[1] + int(r * 0.7)),
                     (c[0] + int(r * 1.6), c[1] + int(r * 1.6)), w + 4)


def card(surf: pygame.Surface, rect: pygame.Rect, color: Color) -> None:
    h = rect.height
    body = pygame.Rect(0, 0, int(h * 1.4), int(h * 0.88))
    body.midtop = (rect.centerx, rect.y + h // 16)
    pygame.draw.rect(surf, color, body, border_radius=h // 10)
    chip = pygame.Rect(body.x + h // 6, body.y + h // 4, h // 4, h // 5)
    pygame.draw.rect(surf, (224, 190, 90), chip, border_radius=h // 30)


def staff(surf: pygame.Surface, rect: pygame.Rect, color: Color) -> None:
    h = rect.height
    _person(surf, color, rect.centerx, rect.y + h // 10, int(h * 0.9))
    w = max(4, h // 12)  # a hand raised to call someone
    pygame.draw.line(surf, color, (rect.centerx + h // 5, rect.y + int(h * 0.55)),
                     (rect.centerx + int(h * 0.45), rect.y + h // 12), w)
    pygame.draw.circle(surf, color, (rect.centerx + int(h * 0.45), rect.y + h // 12), w)


DRAW: dict[str, Callable[[pygame.Surface, pygame.Rect, Color], None]] = {
    "certify": certify, "family": family, "query": query, "card": card, "staff": staff,
}
