"""The configuration schema: every key once, with its type, range, default, description and who
may change it. The config file, validation, `kiosk check-config` and the settings page come from it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.schema_site import SITE


class ConfigError(Exception):
    """A bad configuration file or value; str() is one line naming where, the key and the problem."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, limits and who may change it."""

    name: str
    type: type
    default: Any
    description: str
    choices: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    technician: bool = False  # a technician may change it in the maintenance menu
    bureau: bool = False  # the bureau may push it
    env: str = ""  # extra environment alias, besides KIOSK_<SECTION>_<NAME>
    secret: bool = False  # never shown on the settings page or in `kiosk config --show`
    # Identity or secret: set by the provisioning store (kiosk/provisioning.py), the image's own
    # file or the environment, never by a settings layer (a set-aside layer must not take them).
    provisioned: bool = False
    # What start-up will make of the value beyond type and range (a device spec, a URL): returns
    # the problem, or None. Here so that check-config, the settings page and start-up agree.
    check: Callable[[Any], str | None] | None = None

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def short(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def env_names(self) -> tuple[str, ...]:
        # [kiosk] keys read naturally without a doubled prefix: KIOSK_ID, KIOSK_DATA_DIR.
        stem = self.short if self.section == "kiosk" else self.name
        canonical = "KIOSK_" + stem.upper().replace(".", "_")
        return (self.env, canonical) if self.env else (canonical,)

    def parse(self, raw: Any, source: str) -> Any:
        """Coerce and validate one value (from TOML or from a string)."""
        value = _coerce(self, raw, source)
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise ConfigError(source, self.name, problem)
        if isinstance(value, float) and not math.isfinite(value):
            # TOML and float() both accept nan and inf; no timeout or threshold means either.
            raise ConfigError(source, self.name, f"must be a finite number (got {value!r})")
        if self.choices and value not in self.choices:
            raise ConfigError(source, self.name, f"must be one of {', '.join(map(str, self.choices))} (got {value!r})")
        if self.min is not None and value < self.min:
            raise ConfigError(source, self.name, f"must be at least {self.min:g} (got {value!r})")
        if self.max is not None and value > self.max:
            raise ConfigError(source, self.name, f"must be at most {self.max:g} (got {value!r})")
        problem = self.check(value) if self.check else None
        if problem:
            raise ConfigError(source, self.name, problem)
        return value


def _coerce(key: Key, raw: Any, source: str) -> Any:
    want = key.type
    if isinstance(raw, str) and want is not str:
        text = raw.strip()
        try:
            if want is bool:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return want(text)
        except ValueError:
            raise ConfigError(source, key.name, f"expected {want.__name__}, got {raw!r}") from None
    if want is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if (want is not bool and isinstance(raw, bool)) or not isinstance(raw, want):
        raise ConfigError(source, key.name, f"expected {want.__name__}, got {type(raw).__name__} {raw!r}")
    return raw


MAX_TEXT = 1024  # longer than any path, name or URL a key holds: a pushed megabyte is refused


def _text_problem(value: str) -> str | None:
    """No key wants a control character (a receipt line, a file path, a TOML layer file), nor
    a value longer than MAX_TEXT characters."""
    if len(value) > MAX_TEXT:
        return f"longer than {MAX_TEXT} characters ({len(value)})"
    for ch in value:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029":
            return f"control character U+{ord(ch):04X} not allowed"
    return None


KIOSK_ID_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")  # KioskId in docs/bureau-api.yaml


def kiosk_id_problem(value: Any) -> str | None:
    if not KIOSK_ID_PATTERN.fullmatch(value):
        return f"expected 3-32 of A-Z, 0-9 and -, starting with a letter or digit, got {value!r}"
    return None


def parse_resolution(text: str) -> tuple[int, int] | None:
    """`WIDTHxHEIGHT` -> (width, height); `auto` -> None (the display's own size). Raises ValueError."""
    if text == "auto":
        return None
    width, sep, height = text.lower().partition("x")
    if sep and width.isdigit() and height.isdigit() and 0 < int(width) <= 16384 and 0 < int(height) <= 16384:
        return int(width), int(height)
    raise ValueError(f"expected WIDTHxHEIGHT (e.g. 1920x1080) or auto, got {text!r}")


def _resolution_problem(value: Any) -> str | None:
    try:
        parse_resolution(value)
    except ValueError as exc:
        return str(exc)
    return None


def _device_problem(kind: str) -> Callable[[Any], str | None]:
    def problem(value: Any) -> str | None:
        # Imported here: the registry imports the config module, which imports this one.
        from kiosk.hw.registry import parse_spec

        try:
            parse_spec(kind, value)
        except ValueError as exc:
            return str(exc)
        return None
    return problem


def _bureau_url_problem(value: Any) -> str | None:
    from urllib.parse import urlsplit

    # The same test the bureau client makes when the sync daemon starts.
    try:
        url = urlsplit(value)
        port_ok = url.port is None or 0 < url.port < 65536
    except ValueError:
        port_ok = False
    if not port_ok or url.scheme != "https" or not url.hostname:
        return f"expected https://HOST[:PORT][/PATH], got {value!r}"
    return None


def _pin_hash_problem(value: Any) -> str | None:
    parts = value.split("$")
    if value and (len(parts) != 4 or parts[0] != "scrypt"):
        return "expected scrypt$n=..,r=..,p=..$SALT$DIGEST (written by `kiosk maintenance set-pin`)"
    return None


SCHEMA: tuple[Key, ...] = (
    # --- identity and storage
    Key("kiosk.id", str, "KIOSK-0001", "Kiosk identifier, printed on receipts and used in reference numbers; "
        "the subject of the kiosk's client certificate (provisioned).", provisioned=True, check=kiosk_id_problem),
    Key("kiosk.data_dir", str, "/var/lib/kiosk", "Writable data directory: queue database, layered settings, logs."),
    *(Key(*spec, **options) for spec, options in SITE),  # the bureau and the hall (kiosk/schema_site.py)
    # --- user interface
    Key("ui.language", str, "zh_CN", "Default language at the start of every citizen session.",
        choices=("zh_CN", "en"), technician=True, bureau=True),
    Key("ui.orientation", str, "auto", "Screen orientation: auto follows the display's own size.",
        choices=("auto", "landscape", "portrait"), technician=True),
    Key("ui.resolution", str, "auto", "Window size WIDTHxHEIGHT, or auto for the display's full size.",
        technician=True, check=_resolution_problem),
    Key("ui.fullscreen", bool, True, "Full screen with window-manager and keyboard escapes ignored."),
    Key("ui.kiosk_mode", bool, True, "Ignore window close and keyboard escapes (off only for development)."),
    Key("ui.fps", int, 30, "Frames per second of the UI loop.", min=5, max=60),
    Key("ui.font_path", str, "", "A CJK font file; empty uses Noto Sans SC shipped with pygame_gui."),
    Key("ui.care_mode", bool, False, "Start every session in care mode (larger text).", technician=True),
    Key("ui.voice", bool, True, "Spoken prompts for the key steps (espeak-ng; silent when it is missing).",
        technician=True),
    Key("ui.failsafe_s", float, 3.0, "How long the apology screen shows before returning home.", min=1, max=30),
    Key("ui.error_s", float, 4.0, "How long an error message stays before it may be dismissed.", min=1, max=30),
    Key("ui.pin_pad_scrambled", bool, False, "Shuffle the digits of the card PIN pad on every PIN screen (against "
        "onlookers). Off by default: people who type a PIN by the keys' positions cannot use a shuffled pad.",
        technician=True, bureau=True),
    # --- citizen session
    Key("session.inactivity_s", float, 60.0, "Seconds without a touch before the 'continue?' prompt.",
        min=10, max=600, technician=True, bureau=True),
    Key("session.countdown_s", float, 20.0, "Seconds the 'continue?' prompt counts down before going home.",
        min=5, max=120, technician=True),
    # --- devices (one key each selects the adapter)
    Key("devices.reader", str, "pcsc", "Card reader: pcsc (pcscd; the emulator in simulation) or none.",
        choices=("pcsc", "sim", "none"), env="KIOSK_READER"),
    Key("devices.camera", str, "picamera2",
        "Camera: picamera2 | opencv:INDEX | file:PATH | synthetic | none.", env="KIOSK_CAMERA",
        check=_device_problem("camera"), technician=True),
    Key("devices.printer", str, "usb:0x0416:0x5011",
        "Receipt printer: usb:VID:PID | serial:DEVICE[:BAUD] | tcp:HOST[:PORT] | none.", env="KIOSK_PRINTER",
        check=_device_problem("printer"), technician=True),
    Key("devices.idcard", str, "none", "Resident ID card reader (GA 467 SAM module): serial:DEVICE[:BAUD] "
        "(default 115200 baud) | sim (the simulator on a pseudo-terminal) | none.", env="KIOSK_IDCARD",
        check=_device_problem("idcard"), technician=True),
    Key("devices.scanner", str, "none", "Barcode scanner for e-card QR sign-in, in its USB-serial (CDC / "
        "virtual COM) mode: serial:DEVICE[:BAUD][,suffix=auto|cr|lf|crlf][,prefix=HEX] (default 9600 baud, "
        "CR, LF or CRLF ends a code) | sim (the simulator on a pseudo-terminal) | none (the camera reads the QR "
        "code). Keyboard (HID) mode is not supported: set the scanner to USB serial.", env="KIOSK_SCANNER",
        check=_device_problem("scanner"), technician=True),
    Key("devices.gpio", str, "lgpio", "GPIO backend: lgpio (Pi) or mock (gpiozero MockFactory).",
        choices=("lgpio", "rpigpio", "native", "mock"), env="KIOSK_GPIO"),
    # --- card reader
    Key("card.profile", str, "national", "Region card profile (initial PIN, retry limit).",
        choices=("national", "initial-888888", "initial-000000", "retry-6"), technician=True),
    Key("card.exchange_timeout_s", float, 5.0, "Longest one card exchange may take before it is abandoned "
        "and the card reset.", min=0.5, max=60),
    Key("card.reader_name", str, "", "Part of the citizen-card reader's name; empty = the first reader.",
        technician=True),
    Key("card.psam_reader_name", str, "", "Part of the PSAM slot's reader name; empty = no PSAM."),
    Key("card.wait_s", float, 30.0, "How long the 'insert your card' step waits.", min=5, max=300),
    Key("card.forgotten_s", float, 15.0, "A card left in the reader this long after the end of a session "
        "sounds the buzzer.", min=3, max=120),
    # --- GPIO pins (BCM numbering)
    Key("gpio.status_led", int, 17, "BCM pin of the status LED.", min=0, max=27),
    Key("gpio.help_beacon", int, 27, "BCM pin of the help beacon lamp.", min=0, max=27),
    Key("gpio.buzzer", int, 22, "BCM pin of the buzzer.", min=0, max=27),
    Key("gpio.presence_sensor", int, 23, "BCM pin of the presence sensor (high = someone there).", min=0, max=27),
    Key("gpio.service_door", int, 24, "BCM pin of the service-door switch (high = door open).", min=0, max=27),
    Key("gpio.beacon_s", float, 30.0, "How long 'call staff' keeps the help beacon lit.", min=1, max=600),
    Key("gpio.buzzer_s", float, 0.3, "Length of the buzzer beep for 'call staff'.", min=0.05, max=3),
    # --- printer
    Key("printer.paper_mm", int, 58, "Paper width in millimetres.", choices=(58, 80), technician=True),
    Key("printer.text_mode", str, "gb18030", "gb18030: printer's Chinese mode; raster: receipts drawn as images.",
        choices=("gb18030", "raster"), technician=True),
    Key("printer.timeout_s", float, 3.0, "Timeout of one exchange with the printer.", min=0.5, max=30),
    Key("printer.status_ttl_s", float, 5.0, "How long a printer status reading is reused.", min=0.5, max=60),
    Key("printer.cut", str, "full", "Cut after each receipt.", choices=("full", "partial")),
    Key("printer.chinese_mode_cmd", bool, True, "Send FS & (Chinese mode) before GB18030 text."),
    # --- sync with the bureau
    Key("sync.bureau_url", str, "https://bureau.example.invalid:8443", "Base URL of the bureau API (provisioned).",
        provisioned=True, check=_bureau_url_problem),
    Key("sync.ca_file", str, "/etc/kiosk/tls/bureau-ca.pem", "The bureau's CA certificate (pinned)."),
    Key("sync.cert_file", str, "/etc/kiosk/tls/kiosk.pem", "This kiosk's client certificate."),
    Key("sync.key_file", str, "/etc/kiosk/tls/kiosk.key", "This kiosk's private key (credential of the sync unit)."),
    Key("sync.bureau_public_key_file", str, "/etc/kiosk/tls/bureau-hpke-public.pem",
        "The bureau's public key that queued submissions are sealed to."),
    Key("sync.socket_path", str, "/run/kiosk/sync.sock", "UNIX socket where the sync daemon answers the UI."),
    Key("sync.query_timeout_s", float, 10.0, "How long the UI waits for a live query.", min=1, max=60, technician=True),
    Key("sync.request_timeout_s", float, 10.0, "Timeout of one HTTPS call to the bureau.", min=1, max=120),
    Key("sync.batch_size", int, 50, "Submissions sent per request.", min=1, max=500),
    Key("sync.backoff_base_s", float, 1.0, "First retry delay after a failure.", min=0.01, max=60),
    Key("sync.backoff_max_s", float, 300.0, "Longest retry delay.", min=1, max=3600),
    Key("sync.heartbeat_s", float, 60.0, "Interval between heartbeats.", min=5, max=3600, bureau=True),
    Key("sync.max_queue_mb", float, 1024.0, "Largest size of the outbox database; new submissions are refused "
        "when less than 2 MB of room is left.", min=8, max=65536),
    Key("sync.idle_poll_s", float, 1.0, "How often an idle sync daemon looks for new submissions.", min=0.05, max=30),
    Key("sync.min_free_mb", int, 50, "Refuse new submissions below this much free space in the data dir.",
        min=1, max=10000),
    Key("sync.stuck_after_s", float, 3600.0, "`kiosk sync status` calls the queue stuck (exit 4) when its "
        "oldest pending submission waited longer than this.", min=60, max=604800),
    Key("sync.reference_s", float, 3600.0, "How often the sync daemon asks the bureau for changed reference "
        "data (bank outlets, this kiosk's pushed settings); also at start.", min=60, max=86400),
    # --- face liveness
    Key("liveness.model_dir", str, "", "Model folder; empty searches models/, /opt/kiosk/models, /usr/share/kiosk/models, "
        "~/.cache/kiosk-models."),
    Key("liveness.threads", int, 2, "Inference threads.", min=1, max=4, technician=True),
    Key("certify.valid_months", int, 12, "Months a passed pension qualification authentication holds: its last "
        "day is shown on the result and the receipt (the province's rule).", min=1, max=36, bureau=True),
    Key("liveness.attempts", int, 3, "Liveness attempts before the citizen is referred to a counter.",
        min=1, max=5, bureau=True),
    Key("liveness.attempt_timeout_s", float, 30.0, "Time for one liveness attempt (measured on frame time).",
        min=10, max=120, bureau=True),
    Key("liveness.openings", int, 3, "Mouth openings asked for.", min=1, max=5),
    Key("liveness.cue_delay_min_s", float, 1.0, "Shortest random pause before a cue.", min=0.5, max=5),
    Key("liveness.cue_delay_max_s", float, 4.0, "Longest random pause before a cue.", min=1, max=10),
    Key("liveness.response_min_s", float, 0.2, "Earliest an opening may start after its cue.", min=0, max=1),
    Key("liveness.response_max_s", float, 1.6, "Latest an opening may start after its cue.", min=0.8, max=4),
    Key("liveness.mouth_closed", float, 0.10, "Mouth ratio below which the mouth counts as closed.", min=0.02, max=0.3),
    Key("liveness.mouth_open", float, 0.30, "Mouth ratio above which the mouth counts as open.", min=0.15, max=0.6),
    Key("liveness.detect_interval_s", float, 1.0, "Detector rerun while tracking, to spot a second face.",
        min=0.2, max=5),
    Key("liveness.min_luma", float, 45.0, "Mean face brightness below which the citizen is told it is too dark.",
        min=10, max=120),
    Key("liveness.min_face_frac", float, 0.22, "Face width share below which: move closer.", min=0.1, max=0.5),
    Key("liveness.max_face_frac", float, 0.60, "Face width share above which: move back.", min=0.3, max=0.9),
    Key("liveness.replay_unsolicited", int, 2, "Openings without a cue before a replay is called.", min=1, max=5),
    Key("liveness.still_eye_dip", float, 0.12, "Eyelid dip below which nobody blinked (still photo).",
        min=0.05, max=0.3),
    Key("liveness.face_change_ncc", float, 0.55, "Picture similarity below which the face changed.",
        min=0.2, max=0.9),
    Key("liveness.jpeg_quality", int, 90, "JPEG quality of the four pictures.", min=50, max=100),
    # --- ID-style photo for a card application
    Key("photo.min_face_frac", float, 0.20, "Face width share of the frame below which: move closer.",
        min=0.05, max=0.5),
    Key("photo.max_centre_offset", float, 0.10, "Face centre offset (share of the frame) above which: "
        "centre your face.", min=0.02, max=0.3),
    Key("photo.max_yaw_deg", float, 10.0, "Head turned left or right more than this: look straight ahead.",
        min=2, max=30),
    Key("photo.max_pitch_deg", float, 12.0, "Head raised or lowered more than this: look straight ahead.",
        min=2, max=30),
    Key("photo.max_roll_deg", float, 8.0, "Head tilted more than this: hold your head level.", min=2, max=30),
    Key("photo.min_eye_ratio", float, 0.15, "Eyelid gap / eye width below which the eyes count as closed.",
        min=0.05, max=0.4),
    Key("photo.min_eye_dark", float, 0.18, "Share of the eye box darker than 55 % of the nose (iris, pupil) "
        "below which the eyes count as closed.", min=0.02, max=0.6),
    Key("photo.min_luma", float, 70.0, "Mean face brightness (0-255) below which the photo is too dark.",
        min=20, max=150),
    Key("photo.max_luma", float, 210.0, "Mean face brightness above which the photo is too bright.",
        min=120, max=250),
    Key("photo.max_side_shadow", float, 0.25, "Brightness difference between the face's halves (share of "
        "the brighter half) above which one side is in shadow.", min=0.05, max=0.8),
    Key("photo.min_sharpness", float, 60.0, "Laplacian variance of the face below which the photo is blurred.",
        min=5, max=1000),
    Key("photo.max_background_texture", float, 2.5, "Mean edge strength (0-255 scale) of the background "
        "around the head above which it is not plain.", min=1, max=50),
    Key("photo.max_background_std", float, 25.0, "Colour spread (standard deviation, 0-255) of the "
        "background above which it is not plain.", min=3, max=100),
    Key("photo.jpeg_quality", int, 92, "JPEG quality of the accepted ID photo.", min=50, max=100),
    # --- maintenance menu
    Key("maintenance.pin_hash", str, "", "Technician PIN as a scrypt hash (provisioned; `kiosk maintenance "
        "set-pin` writes it).", provisioned=True, secret=True, check=_pin_hash_problem),
    Key("maintenance.max_failures", int, 5, "Wrong technician PINs before the menu locks.", min=1, max=20),
    Key("maintenance.lockout_s", float, 300.0, "How long the menu stays locked after too many wrong PINs.",
        min=10, max=86400),
    Key("maintenance.idle_s", float, 120.0, "The menu closes itself after this long without a touch.",
        min=15, max=3600, technician=True),
    Key("maintenance.tamper_s", float, 60.0, "Door open this long without a valid PIN raises a tamper alert.",
        min=5, max=3600),
    Key("maintenance.pin_stdin_wait_s", float, 10.0, "Without a terminal, how long `kiosk maintenance set-pin` "
        "waits for the PIN on standard input (a script pipes it at once).", min=1, max=300),
    Key("maintenance.gesture_taps", int, 5, "Taps in the top-left corner that open the PIN prompt.", min=3, max=10),
    Key("maintenance.gesture_window_s", float, 3.0, "Time window for those taps.", min=1, max=10),
    Key("maintenance.stick_dir", str, "/run/kiosk-stick", "Where the USB stick is mounted (kiosk-stick@.service) "
        "for the menu's USB stick page (with devices.gpio = mock: any folder, the tasks run in the UI)."),
    Key("ui.dim_after_s", float, 120.0, "Dim the idle home screen after this long; presence or a touch wakes it.",
        min=10, max=3600, technician=True),
    # --- logging
    Key("log.level", str, "info", "Log level.", choices=("debug", "info", "warning", "error"), technician=True),
)


# --- rules between keys ----------------------------------------------------------------------

@dataclass(frozen=True)
class Ordered:
    """`low` must stay below `high` (or equal, unless strict): a window the kiosk draws from."""

    low: str
    high: str
    strict: bool = False

    def problem(self, values: Mapping[str, Any]) -> str | None:
        lo, hi = values[self.low], values[self.high]
        if lo < hi or (lo == hi and not self.strict):
            return None
        relation = "below" if self.strict else "at most"
        return f"{self.low} ({lo!r}) must be {relation} {self.high} ({hi!r})"


ORDERED: tuple[Ordered, ...] = (
    Ordered("liveness.cue_delay_min_s", "liveness.cue_delay_max_s"),
    Ordered("liveness.response_min_s", "liveness.response_max_s", strict=True),
    Ordered("liveness.mouth_closed", "liveness.mouth_open", strict=True),
    Ordered("liveness.min_face_frac", "liveness.max_face_frac", strict=True),
    Ordered("photo.min_luma", "photo.max_luma", strict=True),
    Ordered("sync.backoff_base_s", "sync.backoff_max_s"),
)
GPIO_PINS = ("gpio.status_led", "gpio.help_beacon", "gpio.buzzer", "gpio.presence_sensor", "gpio.service_door")


def check_rules(values: Mapping[str, Any], origin: Callable[[str], str]) -> None:
    """The rules between keys, on fully resolved values; origin(key) names where a key was set.
    Raises ConfigError for the first broken rule, naming the key a person set."""
    for rule in ORDERED:
        problem = rule.problem(values)
        if problem:
            blamed = rule.low if origin(rule.low) != "default" else rule.high
            raise ConfigError(origin(blamed), blamed, problem)
    seen: dict[int, str] = {}
    for name in GPIO_PINS:
        pin = values[name]
        if pin in seen:
            raise ConfigError(origin(name), name, f"BCM pin {pin} is already {seen[pin]}")
        seen[pin] = name
