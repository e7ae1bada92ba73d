"""The fault table: one row per fault the campaign ran, printed at the end of the pytest run and
written to out/test-artifacts/faults.json.

Queue rows count submissions (offered, acknowledged to the citizen, at the bureau, lost,
duplicated, extra); rows about other defences (pushed settings, a forged card, the clock) say what
was expected and what was observed. A test adds its row through the `fault_table` fixture.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class QueueRow:
    """lost: acknowledged to the citizen, never at the bureau. duplicated: one reference at the
    bureau under two idempotency keys. extra: at the bureau, never acknowledged (allowed)."""

    fault: str
    trials: int
    offered: int
    acknowledged: int
    at_bureau: int
    lost: int
    duplicated: int
    extra: int
    salvaged: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


@dataclass(frozen=True)
class ExpectationRow:
    fault: str
    trials: int
    expected: str
    observed: str
    ok: bool


@dataclass
class FaultTable:
    rows: list[QueueRow | ExpectationRow] = field(default_factory=list)

    def add_queue(self, fault: str, **counts: Any) -> QueueRow:
        row = QueueRow(fault, **counts)
        self.rows.append(row)
        return row

    def add_expectation(self, fault: str, trials: int, expected: str, observed: str,
                        ok: bool) -> ExpectationRow:
        row = ExpectationRow(fault, trials, expected, observed, ok)
        self.rows.append(row)
        return row

    def render(self) -> list[str]:
        head = (f"{'fault':<34} {'trials':>6} {'offered':>7} {'acked':>6} {'bureau':>6} "
                f"{'lost':>4} {'dup':>4} {'extra':>5} {'salvaged':>8}")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            if isinstance(r, QueueRow):
                salv = "-" if r.salvaged is None else str(r.salvaged)
                lines.append(f"{r.fault:<34} {r.trials:>6} {r.offered:>7} {r.acknowledged:>6} "
                             f"{r.at_bureau:>6} {r.lost:>4} {r.duplicated:>4} {r.extra:>5} "
                             f"{salv:>8}")
                if r.detail:
                    lines.append(f"{'':<4}{r.detail}")
        expectations = [r for r in self.rows if isinstance(r, ExpectationRow)]
        if expectations:
            lines += ["", f"{'fault':<34} {'trials':>6}  {'ok':<4} expected / observed"]
            for r in expectations:
                lines.append(f"{r.fault:<34} {r.trials:>6}  {'yes' if r.ok else 'NO':<4} "
                             f"expected: {r.expected}")
                lines.append(f"{'':<47}observed: {r.observed}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {"rows": [{"type": "queue" if isinstance(r, QueueRow) else "expectation",
                          **asdict(r), "ok": r.ok} for r in self.rows]}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")


TABLE = FaultTable()
