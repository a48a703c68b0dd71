"""Figures and the table that prints them, each beside its ceiling."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Figure:
    step: str
    name: str
    value: float | None
    unit: str
    ceiling: float | None = None
    ceiling_label: str = ""  # what the ceiling is, e.g. "bare view" or "pgbench"
    target: str = ""
    met: bool | None = None  # None: no target on this figure
    # How to read value/ceiling: "share" (a rate: higher is better) or
    # "times" (a latency: how many times the ceiling's).
    ratio_kind: str = "share"

    @property
    def ratio(self) -> str:
        if self.value is None or not self.ceiling:
            return ""
        r = self.value / self.ceiling
        return f"{r:.0%}" if self.ratio_kind == "share" else f"{r:.1f}x"


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in ("ms",):
        return f"{value:.1f} {unit}"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def table(figures: list[Figure]) -> str:
    rows = [("figure", "value", "ceiling", "ratio", "target", "met?")]
    for f in figures:
        ceiling = ""
        if f.ceiling is not None:
            ceiling = f"{_number(f.ceiling, f.unit)}" + (f" ({f.ceiling_label})" if f.ceiling_label else "")
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f"{f.step}: {f.name}", _number(f.value, f.unit), ceiling, f.ratio, f.target, met))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save(figures: list[Figure], path: Path, extra: dict) -> None:
    path.write_text(json.dumps({**extra, "figures": [asdict(f) for f in figures]}, indent=2, default=str))
