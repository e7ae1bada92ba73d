"""Spoken prompts: espeak-ng renders each prompt once into a WAV file in a cache folder, and
pygame.mixer plays it. Rendering, loading and mixer start-up run on one background thread, so the
loop never waits; without espeak-ng or a working mixer the kiosk simply stays silent."""

from __future__ import annotations

import hashlib
import logging
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VOICES = {"zh_CN": "cmn", "en": "en"}  # espeak-ng voice per UI language
RENDER_TIMEOUT_S = 10.0
SPOKEN_KEPT = 100
STALE_S = 2.0  # a prompt not ready this long after it was asked for is no longer worth saying

Runner = Callable[..., Any]  # subprocess.run's shape
Player = Callable[[Path], None]


def _mixer_player() -> Player | None:
    """pygame.mixer, or None when there is no audio device (SDL_AUDIODRIVER=dummy also works)."""
    try:
        import pygame

        if not pygame.mixer.get_init():
            pygame.mixer.init()
    except Exception as exc:
        log.info("event=voice_mixer_unavailable error=%s", type(exc).__name__)
        return None
    sounds: dict[Path, Any] = {}

    def play(path: Path) -> None:
        sound = sounds.get(path)
        if sound is None:
            sound = sounds[path] = pygame.mixer.Sound(str(path))
        pygame.mixer.stop()  # a new instruction replaces the one still speaking
        sound.play()

    return play


class Voice:
    """`prepare` renders prompts ahead; `say` asks for one to be spoken and returns at once."""

    def __init__(self, cache_dir: Path, enabled: bool = True, espeak: str | None = None,
                 run: Runner = subprocess.run, player: Callable[[], Player | None] = _mixer_player,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.cache_dir = Path(cache_dir)
        self.espeak = espeak if espeak is not None else (shutil.which("espeak-ng") or "")
        self.enabled = enabled and bool(self.espeak)
        self._run, self._make_player, self._clock = run, player, clock or time.monotonic
        self._player: Player | None = None
        self._player_tried = False
        self._jobs: queue.SimpleQueue[tuple[str, str, str, float]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._latest = 0.0
        self.spoken: list[str] = []  # the last SPOKEN_KEPT prompt keys played, for tests and diagnostics
        if not self.enabled:
            log.info("event=voice_off reason=%s", "disabled" if not enabled else "no_espeak_ng")

    def path_for(self, lang: str, text: str) -> Path:
        voice = VOICES.get(lang, "en")
        digest = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:20]
        return self.cache_dir / f"{voice}-{digest}.wav"

    def prepare(self, prompts: Iterable[tuple[str, str]]) -> None:
        """(lang, text) pairs to have ready before they are needed."""
        for lang, text in prompts:
            self._put("render", "", lang, text)

    def say(self, key: str, lang: str, text: str | None = None, **fields: Any) -> None:
        """Speak the prompt `key` (its catalog text, or `text`) soon; a later say() supersedes one
        not yet played. Never personal data: prompts only."""
        self._put("say", key, lang, text if text is not None else _catalog_text(lang, key, fields))

    def _put(self, op: str, key: str, lang: str, text: str) -> None:
        if not self.enabled or not text:
            return
        asked = self._clock()
        if op == "say":
            self._latest = asked
        self._jobs.put((op, key, f"{lang}\0{text}", asked))
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="voice", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while True:
            op, key, packed, asked = self._jobs.get()
            if op == "stop":
                return
            lang, text = packed.split("\0", 1)
            try:
                path = self._render(lang, text)
                if op == "say" and path is not None and asked >= self._latest \
                        and self._clock() - asked <= STALE_S:
                    self._play(key, path)
            except Exception as exc:
                log.warning("event=voice_failed error=%s", type(exc).__name__)

    def _render(self, lang: str, text: str) -> Path | None:
        path = self.path_for(lang, text)
        if path.is_file() and path.stat().st_size > 44:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # -b 1: the text is UTF-8 whatever the service's locale (systemd starts it with none).
        done = self._run([self.espeak, "-b", "1", "-v", VOICES.get(lang, "en"), "-s", "140", "-w", str(tmp), text],
                         capture_output=True, timeout=RENDER_TIMEOUT_S)
        if getattr(done, "returncode", 1) != 0 or not tmp.is_file():
            log.warning("event=voice_render_failed voice=%s rc=%s", VOICES.get(lang, "en"),
                        getattr(done, "returncode", "?"))
            return None
        tmp.replace(path)  # atomic: a half-written WAV is never played
        return path

    def _play(self, key: str, path: Path) -> None:
        if not self._player_tried:
            self._player_tried = True
            self._player = self._make_player()
        self.spoken.append(key)
        del self.spoken[:-SPOKEN_KEPT]  # a kiosk speaks some ten prompts per journey, for months
        if self._player is not None:
            self._player(path)

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(("stop", "", "\0", 0.0))

    def __repr__(self) -> str:
        return f"<Voice enabled={self.enabled} cache={self.cache_dir} spoken={len(self.spoken)}>"


def _catalog_text(lang: str, key: str, fields: dict[str, Any]) -> str:
    from kiosk.i18n import Translator

    translate = Translator(lang)
    return translate(key, **fields) if translate.has(key) else ""


_shared: dict[str, Voice] = {}


def voice_for(cfg: Any) -> Voice:
    """One Voice per data directory (per process, in practice); config `ui.voice` false turns it
    off. The composition root may also hand it to the UI as `ui.voice`."""
    values = getattr(cfg, "values", {}) or {}
    key = str(cfg.data_dir)
    if key not in _shared:
        _shared[key] = Voice(Path(cfg.data_dir) / "voice", enabled=bool(values.get("ui.voice", True)))
    return _shared[key]
