"""A portrait kiosk on a landscape framebuffer: the UI draws on a portrait surface shown rotated,
and a touch on the display lands on the logical point under the finger."""

from __future__ import annotations

import pygame

from kiosk.app import _rotate_event


def test_a_touch_on_the_rotated_display_hits_the_logical_point_drawn_there():
    logical = pygame.Surface((1080, 1920))
    logical.fill((0, 0, 0))
    target = (100, 200)
    logical.set_at(target, (255, 0, 0))
    shown = pygame.transform.rotate(logical, -90)  # as kiosk.app.run blits it
    assert shown.get_size() == (1920, 1080)
    dx, dy = next((x, y) for x in range(1920) for y in range(1080) if shown.get_at((x, y))[:3] == (255, 0, 0))
    event = pygame.event.Event(pygame.FINGERDOWN, x=dx / 1920, y=dy / 1080, touch_id=1, finger_id=0)
    mapped = _rotate_event(event)
    lx, ly = mapped.x * 1080, mapped.y * 1920
    assert abs(lx - target[0]) <= 1.5 and abs(ly - target[1]) <= 1.5
