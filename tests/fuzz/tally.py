"""What the fuzz tier tried, per route and per topic, and what failed: printed at the end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    inputs: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Bus only: of the inputs, how many came back as dead letters (at least one consumer's).
    dead_lettered: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def tried(self, kind: str, target: str, n: int = 1) -> None:
        self.inputs[(kind, target)] += n

    def failed(self, kind: str, target: str, what: str) -> None:
        self.failures.setdefault((kind, target), []).append(what)

    def failure_count(self) -> int:
        return sum(len(v) for v in self.failures.values())

    def table(self) -> list[str]:
        rows = sorted(set(self.inputs) | set(self.failures))
        width = max([len(f"{k} {t}") for k, t in rows] + [20])
        lines = [f"{'kind target':<{width}}  {'inputs':>7}  {'dead-lettered':>13}  {'failures':>8}"]
        for row in rows:
            dead = str(self.dead_lettered[row]) if row[0] == "bus" else "-"
            lines.append(
                f"{' '.join(row):<{width}}  {self.inputs[row]:>7}  {dead:>13}  "
                f"{len(self.failures.get(row, [])):>8}"
            )
        total = sum(self.inputs.values())
        dead_total = sum(self.dead_lettered.values())
        lines.append(f"{'total':<{width}}  {total:>7}  {dead_total:>13}  {self.failure_count():>8}")
        return lines


TALLY = Tally()
