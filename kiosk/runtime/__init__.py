"""Process plumbing shared by the UI and the sync daemon: clock, workers, systemd notify, logging."""
