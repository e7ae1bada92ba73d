"""Provisioning from a USB stick: the bureau's bundle (bundle.py), the checks every file of it
passes (checks.py), and the two phases that install it into the provisioning store
(install.py; the store itself is kiosk/provisioning.py). The runbook is
docs/runbook-provisioning.md."""
