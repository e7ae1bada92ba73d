"""The sync layer's settings as one value, read from the config schema (kiosk/config.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SyncSettings:
    kiosk_id: str
    data_dir: Path
    bureau_url: str
    ca_file: str
    cert_file: str
    key_file: str
    bureau_public_key_file: str
    socket_path: Path
    query_timeout_s: float = 10.0
    request_timeout_s: float = 10.0
    batch_size: int = 50
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    heartbeat_s: float = 60.0
    min_free_mb: float = 50
    max_queue_mb: float = 1024
    idle_poll_s: float = 1.0
    reference_s: float = 3600.0
    # Who may use the socket besides the daemon's own user: members of this group (the UI's,
    # kiosk-data in the units); empty means the daemon's own primary group, which the units make
    # kiosk-data. Proposed schema key: sync.ipc_group (str, default "", not technician-editable).
    ipc_group: str = ""

    @classmethod
    def from_config(cls, cfg: Any) -> SyncSettings:
        get = cfg.__getitem__
        return cls(
            kiosk_id=get("kiosk.id"), data_dir=Path(get("kiosk.data_dir")),
            bureau_url=get("sync.bureau_url"), ca_file=get("sync.ca_file"),
            cert_file=get("sync.cert_file"), key_file=get("sync.key_file"),
            bureau_public_key_file=get("sync.bureau_public_key_file"),
            socket_path=Path(get("sync.socket_path")),
            query_timeout_s=float(get("sync.query_timeout_s")),
            request_timeout_s=float(get("sync.request_timeout_s")),
            batch_size=int(get("sync.batch_size")),
            backoff_base_s=float(get("sync.backoff_base_s")),
            backoff_max_s=float(get("sync.backoff_max_s")),
            heartbeat_s=float(get("sync.heartbeat_s")),
            min_free_mb=float(get("sync.min_free_mb")),
            max_queue_mb=float(get("sync.max_queue_mb")),
            idle_poll_s=float(get("sync.idle_poll_s")),
            reference_s=float(get("sync.reference_s")),
        )

    def with_(self, **changes: Any) -> SyncSettings:
        return replace(self, **changes)
