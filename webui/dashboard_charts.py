"""The dashboard's four charts, from the numbers reports/stats.py counted."""

from django.urls import reverse
from django.utils import timezone

from reports import stats
from webui import charts


def build(hours, rates, delays, noisy) -> dict:
    return {
        "runs": _runs_per_hour(hours),
        "rates": _success_rates(rates),
        "delays": _delays(delays),
        "noisy": _noisiest(noisy),
    }


def _runs_per_hour(hours: list[stats.Hour]):
    columns = []
    for hour in hours:
        grouped = dict.fromkeys((key for key, _ in stats.GROUPS), 0)
        for status, n in hour.counts.items():
            grouped[stats.GROUP_OF[status]] += n
        columns.append(charts.Column(f"{timezone.localtime(hour.start):%H}:00", grouped))
    total = sum(c.total for c in columns)
    busiest = max(columns, key=lambda c: c.total) if total else None
    description = (
        f"{total} runs in the last 24 hours; the busiest hour, {busiest.label}, had {busiest.total}."
        if busiest
        else "No runs in the last 24 hours."
    )
    return charts.stacked_columns("chart-runs", "Runs per hour by status", description, columns, stats.GROUPS)


def _success_rates(rates: list[stats.Rate]):
    rows = [
        charts.Bar(
            r.name,
            round(r.percent, 1),
            f"{r.percent:.0f}% of {r.total}",
            reverse("runbook_detail", args=[r.slug]),
        )
        for r in rates
    ]
    description = "; ".join(f"{r.name}: {r.succeeded} of {r.total} succeeded" for r in rates) or "No finished runs."
    return charts.bars("chart-rates", "Success rate per runbook, last 7 days", description, rows, scale=100)


def _delays(delays: list[tuple[str, int]]):
    rows = [charts.Bar(label, n, str(n)) for label, n in delays]
    description = "; ".join(f"{label}: {n}" for label, n in delays)
    return charts.bars("chart-delays", "Time from alert to successful remediation, last 7 days", description, rows)


def _noisiest(noisy: list[tuple[str, int]]):
    rows = [charts.Bar(name, n, str(n)) for name, n in noisy]
    description = "; ".join(f"{name}: {n}" for name, n in noisy) or "No alerts."
    return charts.bars("chart-noisy", "Noisiest alerts, last 7 days", description, rows)
