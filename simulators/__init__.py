"""Independent stand-ins for every device and for the bureau (see DESIGN.md)."""
