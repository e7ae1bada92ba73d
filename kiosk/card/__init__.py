"""Social security card application protocol over any APDU transport (see protocol.py)."""
