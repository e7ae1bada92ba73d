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
    ("bench.service", ("run",)),
)
# Ratios of two figures measured in the same run: name, numerator, denominator.
RATIOS = (
    ("sync.enqueue_vs_raw", "sync.enqueue_per_s", "sync.raw_insert_per_s"),
    ("liveness.frame_vs_invoke", "liveness.frame_ms_p50", "liveness.raw_invoke_ms_p50"),
)
# Targets of issue 12: metric, comparison, bound. Printed as met or NOT met, never asserted.
TARGETS = (
    ("sync.enqueue_vs_raw", ">=", 0.6),
    ("liveness.frame_vs_invoke", "<=", 1.5),
    ("service.rss_mb", "<=", 200.0),
    ("service.rss_growth_mb", "<=", 5.0),
)


def _ratios(results: dict[str, float]) -> dict[str, float]:
    return {name: results[num] / results[den] for name, num, den in RATIOS
            if num in results and results.get(den)}


def _target_lines(results: dict[str, float]) -> list[str]:
    lines = []
    for key, op, bound in TARGETS:
        if key not in results:
            lines.append(f"# target {key} {op} {bound:g}: not measured")
            continue
        value = results[key]
        met = value >= bound if op == ">=" else value <= bound
        lines.append(f"# target {key} {op} {bound:g}: {value:.4g} {'met' if met else 'NOT met'}")
    return lines


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
                notes[f"{module_name}.{fn}"] = f"failed: {exc}"
            print(f"bench: {module_name}.{fn} took {time.monotonic() - t0:.1f} s", file=sys.stderr)
    results.update(_ratios(results))
    width = max((len(k) for k in results), default=10)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  ----------")
    for key in sorted(results):
        print(f"{key:<{width}}  {results[key]:.4g}")
    for key, note in notes.items():
        print(f"# {key}: {note}")
    targets = _target_lines(results)
    for line in targets:
        print(line)
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps({"results": results, "notes": notes, "targets": targets,
                               "machine": platform.platform(),
                               "python": platform.python_version()}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
