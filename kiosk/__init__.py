"""Firmware for social-security self-service kiosks."""

__version__ = "0.1.0"
