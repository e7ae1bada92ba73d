"""ESC/POS receipt printer simulator: a TCP 9100 peer for python-escpos that renders receipts.

Written from the ESC/POS command reference, independent of the kiosk's printer adapter.
"""

from .server import CONTROL_HELP, WIDTHS, PrinterSimulator
from .status import PrinterState
from .store import Receipt

__all__ = ["CONTROL_HELP", "WIDTHS", "PrinterSimulator", "PrinterState", "Receipt"]
