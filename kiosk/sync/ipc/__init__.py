"""The UNIX-socket link between the UI's services and the sync daemon (docs/architecture.md).

The UI process has no network; this socket is how its questions reach the bureau. protocol is
the line format both ends share, server the daemon's end, client the UI's.
"""

from kiosk.sync.ipc.client import SyncClient
from kiosk.sync.ipc.protocol import (
    MAX_LINE,
    Handler,
    Refused,
    SyncStatus,
    SyncUnavailable,
    answer,
    parse_request,
)
from kiosk.sync.ipc.server import IpcServer, Peer, group_id, peer_of

__all__ = ["MAX_LINE", "Handler", "IpcServer", "Peer", "Refused", "SyncClient", "SyncStatus",
           "SyncUnavailable", "answer", "group_id", "parse_request", "peer_of"]
