"""`python -m kiosk.cli`: the same as `kiosk` and `python -m kiosk`."""

from kiosk.cli import main

raise SystemExit(main())
