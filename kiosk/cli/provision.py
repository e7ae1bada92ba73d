"""`kiosk provision --from DIR` (the kiosk's side) and `kiosk provision bundle DIR ...` (the
bureau's side): provisioning from a USB stick in two phases, docs/runbook-provisioning.md.

--from DIR exit codes: 0 provisioned (phase 2: the certificate and the bundle installed),
5 phase 1 done (the certificate request is on the stick; not provisioned yet), 1 the bundle or
the certificate refused (nothing changed), 3 the data directory cannot be written (nothing
changed), 2 usage or configuration.
bundle exit codes: 0 made, 1 refused (a weak PIN, the two PINs differ, a file of the wrong
kind, a directory already holding a bundle), 4 no PIN on standard input, 2 usage.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from kiosk import config

EXIT_REFUSED, EXIT_NOT_WRITABLE, EXIT_NO_PIN, EXIT_REQUESTED = 1, 3, 4, 5
PIN_WAIT_S = 10.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provision", help="install this kiosk's identity from a provisioning bundle "
                       "(two phases: request, then certificate)")
    p.add_argument("--from", dest="source", type=Path, metavar="DIR",
                   help="the mounted stick (or a directory) holding the bundle")
    p.add_argument("--config", type=Path, help="configuration file (default /etc/kiosk/kiosk.toml)")
    p.set_defaults(handler=_provision)
    psub = p.add_subparsers(dest="provision_command", metavar="SUBCOMMAND")
    b = psub.add_parser("bundle", help="(bureau side) make a kiosk's bundle in DIR; the technician "
                        "PIN is asked twice on a terminal, read from standard input otherwise")
    b.add_argument("dir", type=Path, metavar="DIR")
    b.add_argument("--kiosk-id", required=True)
    b.add_argument("--bureau-url", required=True)
    b.add_argument("--kiosk-ca", type=Path, required=True, help="PEM: the CA that signs kiosk certificates")
    b.add_argument("--server-ca", type=Path, required=True, help="PEM: the bureau's server trust anchor")
    b.add_argument("--sealing-key", type=Path, required=True,
                   help="PEM: the bureau's X25519 sealing public key")
    b.add_argument("--stdin", action="store_true", help="read the PIN from standard input even on a terminal")
    b.set_defaults(handler=_bundle)


def _provision(args: argparse.Namespace) -> int:
    from kiosk.provision.checks import BundleError
    from kiosk.provision.install import Installed, provision
    from kiosk.services.audit import AuditLog

    if args.source is None:
        print("kiosk provision: say where the bundle is: kiosk provision --from DIR", file=sys.stderr)
        return 2
    cfg = config.load(args.config)
    try:
        done = provision(cfg.data_dir, args.source)
    except BundleError as exc:
        print(f"kiosk provision: refused, nothing changed: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as exc:
        why = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else (exc.strerror or str(exc))
        print(f"kiosk provision: cannot write the data directory {cfg.data_dir} ({why}); "
              "nothing changed", file=sys.stderr)
        return EXIT_NOT_WRITABLE
    try:
        audit = AuditLog(cfg.data_dir / "audit.db")
        if isinstance(done, Installed):
            audit.append("provisioned", kiosk_id=done.kiosk_id, via="cli")
        else:
            audit.append("provisioning_requested", kiosk_id=done.kiosk_id, via="cli")
    except (OSError, sqlite3.Error) as exc:  # installed all the same: say so, do not fail
        print(f"kiosk provision: note: the audit log was not written ({exc})", file=sys.stderr)
    if isinstance(done, Installed):
        print(f"provisioned as {done.kiosk_id}: certificate valid until {done.not_after:%Y-%m-%d}, "
              f"bureau {done.bureau_url}, technician PIN from the bundle. Restart the sync service "
              "(systemctl restart kiosk-sync) and check `kiosk sync status`.")
        return 0
    print(f"phase 1 done, not provisioned yet: certificate request for {done.kiosk_id} written to "
          f"{done.request} ({'the key made earlier' if done.reused_key else 'a new key'}, which stays "
          "on this kiosk). Take the stick to the bureau; with the signed certificate saved beside "
          f"it as kiosk.pem, run `kiosk provision --from {args.source}` again.")
    return EXIT_REQUESTED


def _bundle(args: argparse.Namespace) -> int:
    from kiosk.cli.maintenance import NoPin, read_piped_lines
    from kiosk.provision import bundle
    from kiosk.provision.checks import BundleError, read_small

    try:
        files = [read_small(p, str(p)) for p in (args.kiosk_ca, args.server_ca, args.sealing_key)]
    except BundleError as exc:
        print(f"kiosk provision bundle: refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        if sys.stdin.isatty() and not args.stdin:
            import getpass

            first, second = getpass.getpass("Technician PIN for this kiosk: "), getpass.getpass("Again: ")
        else:
            lines = read_piped_lines(sys.stdin.fileno(), PIN_WAIT_S)
            first, second = lines[0], lines[-1]
    except NoPin as exc:
        print(f"kiosk provision bundle: {exc}; no bundle made", file=sys.stderr)
        return EXIT_NO_PIN
    if first.strip() != second.strip():
        print("kiosk provision bundle: the two PINs differ; no bundle made", file=sys.stderr)
        return EXIT_REFUSED
    try:
        made = bundle.make(args.dir, kiosk_id=args.kiosk_id, bureau_url=args.bureau_url,
                           kiosk_ca=files[0], server_ca=files[1], sealing_key=files[2],
                           pin=first.strip())
    except BundleError as exc:
        print(f"kiosk provision bundle: refused, no bundle made: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"bundle for {made.kiosk_id} written to {made.directory}; on the kiosk run "
          f"`kiosk provision --from DIR` (phase 1), then sign {bundle.REQUEST} and save the "
          f"certificate as {bundle.CERTIFICATE} beside it (phase 2)")
    return 0
