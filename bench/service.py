"""Memory of the kiosk UI process alone, after the headless walkthrough and over repeated journeys.

service.rss_mb          VmRSS of the kiosk process (`kiosk run --sim --walkthrough`, a subprocess
                        under simulators.launch: not this harness, which holds simulators of its
                        own) at the end of the first full walkthrough (pension authentication by
                        card + PIN + liveness, a contributions query with its receipt)
service.rss_growth_mb   VmRSS after REPEATS more pension journeys minus service.rss_mb: a leak
                        shows here

The kiosk reports both figures itself in SHOTS/walkthrough.json ({"rss_mb", "rss_mb_after_repeats",
"repeats"}); a missing file or key is a failure with its reason, never a number made up here.
Starts the card stack, so it runs under the card-stack lock like the rest of `make bench`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.disk import durable_dir

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 50
TIMEOUT_S = 1800


class ServiceBenchFailed(RuntimeError):
    """The walkthrough did not produce the figures; str() says why."""


def _command(out: Path, shots: Path, repeats: int) -> list[str]:
    py = sys.executable
    return [py, "-m", "simulators.launch", "--out", str(out), "--",
            py, "-m", "kiosk", "run", "--sim", "--walkthrough", str(shots), "--repeat", str(repeats)]


def _read(report: Path, proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
    if not report.is_file():
        raise ServiceBenchFailed(f"no {report.name} (exit {proc.returncode}): {' | '.join(tail)}")
    try:
        data = json.loads(report.read_text())
    except ValueError as exc:
        raise ServiceBenchFailed(f"{report.name} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ServiceBenchFailed(f"{report.name} is not an object")
    return data


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        failed = data.get("failed") or ""
        raise ServiceBenchFailed(f"walkthrough.json has no number {key!r} (got {value!r}) {failed}")
    return float(value)


def run(repeats: int = REPEATS) -> dict[str, float]:
    with durable_dir("bench-service-") as work:
        shots = work / "shots"
        proc = subprocess.run(_command(work / "sims", shots, repeats), cwd=ROOT, text=True,
                              capture_output=True, timeout=TIMEOUT_S, check=False)
        data = _read(shots / "walkthrough.json", proc)
    rss = _number(data, "rss_mb")
    out = {"service.rss_mb": rss}
    if data.get("repeats") != repeats:
        raise ServiceBenchFailed(f"asked for {repeats} repeats, walkthrough.json says "
                                 f"{data.get('repeats')!r}; service.rss_mb={rss}")
    after = data.get("rss_mb_after_repeats")
    if not isinstance(after, (int, float)):
        raise ServiceBenchFailed(f"no rss_mb_after_repeats (got {after!r}); service.rss_mb={rss}; "
                                 f"failed parts: {data.get('failed')}")
    out["service.rss_after_repeats_mb"] = float(after)
    out["service.rss_growth_mb"] = float(after) - rss
    out["service.repeats"] = float(repeats)
    return out


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else REPEATS))
