"""`make bench`: run every measurement, print a table, write bench/results.json."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

# module -> functions returning {metric: value}; optional modules are skipped when absent.
SUITES = (
    ("bench.ui", ("frame_times", "startup")),
    ("bench.card", ("apdu_round_trip",)),
    ("bench.printer", ("run",)),
    ("bench.liveness", ("run",)),
    ("bench.sync", ("run",)),
)


def main() -> int:
    results: dict[str, float] = {}
    notes: dict[str, str] = {}
    for module_name, functions in SUITES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            notes[module_name] = f"skipped: {exc}"
            continue
        for fn in functions:
            if not hasattr(module, fn):
                notes[f"{module_name}.{fn}"] = "skipped: not defined"
                continue
            t0 = time.monotonic()
            try:
                results.update(getattr(module, fn)())
            except Exception as exc:  # one failing suite must not hide the others
                notes[f"{module_name}.{fn}"] = f"failed: {exc!r}"
            print(f"bench: {module_name}.{fn} took {time.monotonic() - t0:.1f} s", file=sys.stderr)
    width = max((len(k) for k in results), default=10)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  ----------")
    for key in sorted(results):
        print(f"{key:<{width}}  {results[key]:.4g}")
    for key, note in notes.items():
        print(f"# {key}: {note}")
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps({"results": results, "notes": notes, "machine": platform.platform(),
                               "python": platform.python_version()}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
