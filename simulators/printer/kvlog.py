"""One key=value log line per event, on the simulator's own logger (never the root logger)."""

from __future__ import annotations

import logging
import sys

LOG = logging.getLogger("simulators.printer")


def _value(v: object) -> str:
    s = str(v)
    if not s or any(c in s for c in ' ="\n\t'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return s


def log_event(event: str, level: int = logging.INFO, **fields: object) -> None:
    """Log `event=NAME k=v ...` at the given level."""
    if LOG.isEnabledFor(level):
        parts = [f"event={event}"] + [f"{k}={_value(v)}" for k, v in fields.items()]
        LOG.log(level, " ".join(parts))


def configure_stderr(level: int = logging.INFO) -> None:
    """For the command line: key=value lines on stderr with a timestamp and level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("ts=%(asctime)s level=%(levelname)s comp=printer-sim %(message)s")
    )
    LOG.addHandler(handler)
    LOG.setLevel(level)
    LOG.propagate = False
