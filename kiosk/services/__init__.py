"""Citizen and technician use cases as plain Python (no pygame)."""
