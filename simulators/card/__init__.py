"""Social security card and PSAM emulator for the vpcd virtual reader (see REFERENCE.md).

Run `python -m simulators.card --help`. Imports nothing from kiosk/: it is the other side.
"""
