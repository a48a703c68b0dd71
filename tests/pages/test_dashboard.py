"""The dashboard as the person on call reads it."""

import pytest
from django.utils import timezone

from events.models import Event
from tests.factories import make_binding, make_runbook, make_source
from tests.pages.conftest import queries, run_of

pytestmark = pytest.mark.django_db


def test_a_new_install_says_where_to_start(logged_in):
    html = logged_in.get("/").content.decode()
    assert "Start here" in html and 'href="/runbooks/new/"' in html and 'href="/sources/new/"' in html
    assert "Nothing is running." in html and "Nothing waits for approval." in html
    assert "No binding is tripped" in html


def test_it_shows_what_runs_what_waits_what_failed_and_tripped_bindings(logged_in):
    runbook = make_runbook(name="Disk cleanup", slug="disk")
    source, _ = make_source()
    Event.objects.create(source=source, status="firing", name="DiskFull", fingerprint="f")
    running = run_of(runbook, "running", started_at=timezone.now())
    waiting = run_of(runbook, "awaiting_approval")
    failed = run_of(runbook, "timed_out", finished_at=timezone.now())
    done = run_of(runbook, "succeeded", finished_at=timezone.now())
    make_binding(runbook, source, name="Clean disks", tripped_at=timezone.now(), tripped_reason="3 failures in 10 min")
    html = logged_in.get("/").content.decode()
    assert "Start here" not in html
    for section, execution in (("running-title", running), ("awaiting-title", waiting), ("failures-title", failed)):
        part = html[html.index(section) : html.index("</section>", html.index(section))]
        assert f"/executions/{execution.pk}/" in part, section
        assert f"/executions/{done.pk}/" not in part, section
    tripped = html[html.index("tripped-title") :]
    assert "Clean disks" in tripped and "3 failures in 10 min" in tripped
    for chart in ("chart-runs", "chart-rates", "chart-noisy"):
        assert f'id="{chart}"' in html, chart


def test_alert_names_are_escaped(logged_in):
    runbook = make_runbook(slug="rb")
    source, _ = make_source()
    event = Event.objects.create(source=source, status="firing", name="<img src=x onerror=alert(1)>", fingerprint="f")
    run_of(runbook, "running", event=event)
    html = logged_in.get("/").content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_number_of_queries_does_not_grow_with_the_runs(logged_in):
    source, _ = make_source()

    def fill(n: int, tag: str):
        runbook = make_runbook(name=f"Runbook {tag}", slug=f"rb-{tag}")
        for i in range(n):
            event = Event.objects.create(source=source, status="firing", name=f"Alert {tag}{i}", fingerprint=tag)
            for status in ("running", "awaiting_approval", "failed", "succeeded"):
                run_of(runbook, status, event=event, finished_at=timezone.now())
            make_binding(runbook, source, name=f"b{tag}{i}", tripped_at=timezone.now(), tripped_reason="x")

    fill(1, "a")
    few = queries(logged_in, "/")
    fill(50, "b")
    assert queries(logged_in, "/") == few
