"""A resident ID card (二代身份证) reader simulator: a SAM-module reader speaking GA 467 frames on a
pseudo-terminal, with cards from personas and faults on demand. Imports nothing from the kiosk.

    python -m simulators.idcard --persona wang --control-port 7070
"""

from __future__ import annotations

from simulators.idcard.cards import IdCard, load_cards
from simulators.idcard.control import HELP, ControlServer, command
from simulators.idcard.reader import FAULTS, IdCardReaderSim

__all__ = ["FAULTS", "HELP", "ControlServer", "IdCard", "IdCardReaderSim", "command", "load_cards"]
