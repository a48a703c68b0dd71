"""The dashboard's charts: SVG whose bars match the counts, and the
numbers behind them counted by the database over fixed windows."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event
from reports import stats
from runbooks.models import Execution
from tests.factories import make_runbook, make_source
from tests.pages.conftest import run_of
from webui import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))  # well-formed XML, or this raises


def rects(root):
    return root.iter(f"{SVG}rect")


def test_stacked_columns_heights_are_proportional_to_the_counts():
    columns = [
        charts.Column("00:00", {"succeeded": 3, "failed": 1}),
        charts.Column("01:00", {}),
        charts.Column("02:00", {"succeeded": 8}),
    ]
    root = parse(charts.stacked_columns("c", "Runs", "desc", columns, [("succeeded", "ok"), ("failed", "bad")]))
    bars = [(r.get("class"), int(r.get("data-value")), float(r.get("height")), float(r.get("y"))) for r in rects(root)]
    assert [(c, v) for c, v, _, _ in bars] == [
        ("bar series-succeeded", 3),
        ("bar series-failed", 1),
        ("bar series-succeeded", 8),
    ]
    unit = bars[2][2] / 8  # the tallest column fills the plot
    assert bars[0][2] == pytest.approx(3 * unit, abs=0.02) and bars[1][2] == pytest.approx(unit, abs=0.02)
    # Stacked: the failed segment sits right on top of the succeeded one.
    assert bars[1][3] + bars[1][2] == pytest.approx(bars[0][3], abs=0.02)
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "Runs"
    assert root.get("aria-labelledby") == "c-title c-desc" and root.find(f"{SVG}desc").text == "desc"


def test_bars_scale_and_escape_their_labels():
    rows = [charts.Bar("<script>x</script>", 50, "50%", href="/runbooks/a/"), charts.Bar("b & c", 100, "100%")]
    svg = str(charts.bars("r", "Rates", "d", rows, scale=100))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    root = parse(svg)
    widths = [float(r.get("width")) for r in rects(root)]
    assert widths[0] * 2 == pytest.approx(widths[1], abs=0.02)
    assert [t.text for t in root.iter(f"{SVG}title")][1:] == ["<script>x</script>: 50%", "b & c: 100%"]
    assert root.find(f"{SVG}a").get("href") == "/runbooks/a/"


def test_an_empty_chart_is_still_valid_svg():
    assert list(rects(parse(charts.stacked_columns("e", "t", "d", [], [])))) == []
    assert list(rects(parse(charts.bars("e", "t", "d", [])))) == []


@pytest.mark.django_db
def test_runs_per_hour_counts_each_status_in_its_hour_and_ignores_older_runs():
    runbook = make_runbook(slug="rb")
    now = timezone.now()
    for status, hours_ago in [("succeeded", 0), ("succeeded", 0), ("failed", 0), ("succeeded", 5), ("running", 23)]:
        run_of(runbook, status, created_at=now - timedelta(hours=hours_ago))
    run_of(runbook, "failed", created_at=now - timedelta(hours=30))  # outside the window
    hours = stats.runs_per_hour(now)
    assert len(hours) == 24
    assert hours[-1].counts["succeeded"] == 2 and hours[-1].counts["failed"] == 1
    assert hours[-6].counts["succeeded"] == 1
    assert hours[0].counts["running"] == 1
    assert sum(sum(h.counts.values()) for h in hours) == 5


@pytest.mark.django_db
def test_success_rate_counts_only_runs_that_ran_busiest_first():
    busy, quiet = make_runbook(name="Busy", slug="busy"), make_runbook(name="Quiet", slug="quiet")
    for status in ["succeeded"] * 3 + ["failed", "timed_out", "cancelled", "skipped"]:
        run_of(busy, status)
    run_of(quiet, "succeeded")
    run_of(quiet, "succeeded", created_at=timezone.now() - timedelta(days=8))
    rates = stats.success_rates(timezone.now())
    assert [(r.slug, r.succeeded, r.total) for r in rates] == [("busy", 3, 5), ("quiet", 1, 1)]
    assert rates[0].percent == 60


@pytest.mark.django_db
def test_alert_to_remediation_buckets_the_time_from_alert_to_success():
    runbook = make_runbook(slug="rb")
    source, _ = make_source()
    now = timezone.now()
    for minutes in (0.5, 3, 3, 200, 300):
        event = Event.objects.create(
            source=source, status="firing", name="DiskFull", fingerprint="f", received_at=now - timedelta(hours=6)
        )
        run_of(runbook, "succeeded", event=event, finished_at=event.received_at + timedelta(minutes=minutes))
    event = Event.objects.create(source=source, status="firing", name="DiskFull", fingerprint="f")
    run_of(runbook, "failed", event=event, finished_at=now)  # not a remediation
    run_of(runbook, "succeeded", finished_at=now)  # manual: no alert
    buckets = dict(stats.alert_to_remediation(now))
    assert buckets == {"under 1 min": 1, "1–5 min": 2, "5–15 min": 0, "15–60 min": 0, "1–4 h": 1, "over 4 h": 1}
    assert stats.median_bucket(list(buckets.items())) == "1–5 min"


@pytest.mark.django_db
def test_noisiest_alerts_are_counted_by_name_in_the_last_week():
    source, _ = make_source()
    now = timezone.now()
    for name, n in [("DiskFull", 3), ("CPUHigh", 1)]:
        for _ in range(n):
            Event.objects.create(source=source, status="firing", name=name, fingerprint="f")
    Event.objects.create(
        source=source, status="firing", name="Old", fingerprint="f", received_at=now - timedelta(days=8)
    )
    assert stats.noisiest_alerts(now) == [("DiskFull", 3), ("CPUHigh", 1)]


@pytest.mark.django_db
def test_the_dashboard_draws_the_counts_it_read(client, user):
    runbook = make_runbook(name="Disk cleanup", slug="disk")
    for status in ["succeeded"] * 4 + ["failed"]:
        run_of(runbook, status, finished_at=timezone.now())
    client.force_login(user)
    html = client.get("/").content.decode()
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-runs"')
    root = parse(html[start : html.index("</svg>", start) + 6])
    drawn = {r.get("class"): int(r.get("data-value")) for r in rects(root)}
    assert drawn == {"bar series-succeeded": 4, "bar series-failed": 1}
    assert "5 runs in the last 24 hours" in root.find(f"{SVG}desc").text
    assert "Disk cleanup: 4 of 5 succeeded" in html
    assert Execution.objects.count() == 5
