"""A barcode scanner in its USB-serial (CDC / virtual COM) mode on a pseudo-terminal: each code
"scanned" is written as prefix + text + suffix, the way docs/scanner.md says real scanners send it,
with faults on demand (garbage bytes, a line cut short, a very long code). Imports nothing from
the kiosk.

    python -m simulators.scanner --control-port 7071
"""

from __future__ import annotations

from simulators.scanner.control import HELP, ControlServer, command
from simulators.scanner.scanner import FAULTS, SUFFIXES, ScannerSim

__all__ = ["FAULTS", "HELP", "SUFFIXES", "ControlServer", "ScannerSim", "command"]
