"""`python -m kiosk.sync run|status|retry-dead`: the sync commands on their own."""

from kiosk.sync.cli import main

raise SystemExit(main())
