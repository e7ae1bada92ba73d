"""Command line of the bureau simulator: `python -m simulators.bureau --help`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import threading
from pathlib import Path

from . import admin as admin_mod
from . import pki
from .answers import Answers
from .envelope import Opener
from .facematch import FaceMatcher
from .faults import Dice, Faults
from .personas import DEFAULT_PATH as DEFAULT_PERSONAS
from .personas import load as load_personas
from .replies import log
from .schemas import DEFAULT_API, Schemas
from .server import BureauServer, server_context
from .service import Bureau
from .store import Store

EPILOG = """\
State directory (created at first start, kept across restarts):
  bureau.sqlite3                 submissions (first answers), records, verdicts, heartbeats
  ca.pem, ca.key                 bureau CA; the kiosk pins ca.pem
  server.pem, server.key         server certificate (localhost, 127.0.0.1, ::1)
  kiosk-<ID>.pem, kiosk-<ID>.key client certificate for each --kiosk-id (CN = kiosk id)
  kiosk-expired.pem/.key         CA-signed but expired client certificate (refused)
  rogue-client.pem/.key          client certificate from an unrelated CA (refused)
  bureau-hpke-private.pem        X25519 key that opens sealed envelopes
  bureau-hpke-public.pem/.raw    its public key for the kiosk (PEM SPKI / 32 raw bytes)

Admin API (plain HTTP on 127.0.0.1:--admin-port, JSON):
  GET /health, GET /faults, PUT /faults {"latency_ms": 20, "error_rate": 0.1, ...},
  GET /stats, GET /submissions, GET /submissions/<key>, GET /heartbeats,
  PUT /kiosk-config/<kiosk_id> {settings...}
  POST /ecard/tokens {"id_number": ...} (a phone's QR token), PUT /ecard/clock {"offset_s": N},
  PUT /ecard/status/<id_number> {"status": none|active|suspended}, GET /ecard/state,
  POST /ecard/reset (e-card, family-account and certificate state back to the data files)
Fault fields: latency_ms, error_rate, error_status (500/502/503/504), drop_rate,
  throttle_rate, retry_after_s, garbage_rate, tls_failure_rate. Errors and 429s come before
  any processing; half of the drops and all garbage answers come after the request was
  processed and stored (the answer is lost, the submission is not).

Face match is a stand-in, NOT a biometric matcher: Haar-cascade face crops compared by
normalised correlation against the persona's photo of record (test faces shipped by
matplotlib and scikit-image), enough to tell the simulators' few faces apart.

The ready file (JSON: host, port, admin_port, pid, files) is written once both servers listen.
"""


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate is between 0 and 1")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulators.bureau",
        description="Bureau simulator: HTTPS + mutual TLS server of docs/bureau-api.yaml "
        "with a persistent store, idempotent ingestion and fault injection.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8443, help="HTTPS port; 0 picks a free one")
    p.add_argument("--admin-port", type=int, default=0,
                   help="admin HTTP port on 127.0.0.1; 0 picks a free one (default)")
    p.add_argument("--state", type=Path, required=True, help="state directory")
    p.add_argument("--kiosk-id", action="append", dest="kiosk_ids", metavar="ID",
                   help="issue a client certificate for this kiosk id (repeatable; "
                   "default KIOSK-0001)")
    p.add_argument("--ready-file", type=Path, help="write this JSON file once listening")
    p.add_argument("--personas", type=Path, default=DEFAULT_PERSONAS, help="persona TOML")
    p.add_argument("--photos", type=Path,
                   help="folder of <id_number>.jpg photos of record, overriding the personas'")
    p.add_argument("--api", type=Path, default=DEFAULT_API, help="OpenAPI document")
    p.add_argument("--today", type=dt.date.fromisoformat,
                   help="the simulator's date for query answers (default: today, UTC)")
    faults = p.add_argument_group("fault injection (also settable at run time: PUT /faults)")
    faults.add_argument("--latency-ms", type=int, default=0)
    faults.add_argument("--error-rate", type=_rate, default=0.0, help="answer error_status")
    faults.add_argument("--error-status", type=int, default=503, choices=(500, 502, 503, 504))
    faults.add_argument("--drop-rate", type=_rate, default=0.0,
                        help="close the connection without answering")
    faults.add_argument("--throttle-rate", type=_rate, default=0.0,
                        help="429 with Retry-After")
    faults.add_argument("--retry-after-s", type=int, default=1)
    faults.add_argument("--garbage-rate", type=_rate, default=0.0,
                        help="200 with a non-JSON or wrong-schema body")
    faults.add_argument("--tls-failure-rate", type=_rate, default=0.0,
                        help="close connections before the TLS handshake")
    faults.add_argument("--seed", type=int, help="seed for the fault dice")
    return p


def _write_ready(path: Path, info: dict[str, object]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, path)  # readers never see half a file


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    kiosk_ids = args.kiosk_ids or ["KIOSK-0001"]
    files = pki.ensure(args.state, kiosk_ids)
    personas = load_personas(args.personas)
    today = args.today or dt.datetime.now(dt.UTC).date()
    store = Store(args.state / "bureau.sqlite3")
    bureau = Bureau(store, personas, Answers(personas, today),
                    Opener([pki.load_hpke_private(files.hpke_private)]), FaceMatcher(),
                    Schemas(args.api), args.photos)
    dice = Dice(Faults(
        latency_ms=args.latency_ms, error_rate=args.error_rate, error_status=args.error_status,
        drop_rate=args.drop_rate, throttle_rate=args.throttle_rate,
        retry_after_s=args.retry_after_s, garbage_rate=args.garbage_rate,
        tls_failure_rate=args.tls_failure_rate,
    ), args.seed)
    server = BureauServer((args.host, args.port), bureau, dice, server_context(files))
    admin = admin_mod.AdminServer(("127.0.0.1", args.admin_port), dice, server.stats, store,
                                  bureau.ecard)
    admin.start()
    port, admin_port = server.server_address[1], admin.server_address[1]
    for name, path in files.as_dict().items():
        log("state_file", name=name, path=path)
    log("listening", host=args.host, port=port, admin_port=admin_port, today=today,
        citizens=len(personas.citizens), **{k: v for k, v in dice.faults.as_dict().items()})
    if args.ready_file:
        _write_ready(args.ready_file, {"host": args.host, "port": port, "admin_port": admin_port,
                                       "pid": os.getpid(), "files": files.as_dict()})

    def stop(signum: int, _frame: object) -> None:
        log("stopping", signal=signum)
        # shutdown() waits for serve_forever to return, so it must not run in its thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        admin.shutdown()
        server.server_close()
        store.close()
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
