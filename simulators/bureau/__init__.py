"""Bureau simulator: an independent HTTPS (mutual TLS) implementation of docs/bureau-api.yaml.

Imports nothing from `kiosk/`; run it with `python -m simulators.bureau --help`.
"""
