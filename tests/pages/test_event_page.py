"""An event's page: what Steward understood of the alert, the raw JSON,
and for each binding whether it matched and why not."""

import pytest
from django.utils import timezone

from events.models import Event
from tests.factories import make_binding, make_runbook, make_source
from tests.pages.conftest import queries, run_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert():
    source, _ = make_source("am", "alertmanager")
    return Event.objects.create(
        source=source,
        status="firing",
        name="DiskFull",
        severity="critical",
        fingerprint="abc123",
        summary="Disk almost full",
        labels={"env": "staging", "instance": "web-01"},
        annotations={"runbook_url": "https://wiki.example.invalid/disk"},
        payload={"alerts": [{"labels": {"alertname": "DiskFull"}}], "version": "4"},
    )


def test_it_shows_the_normalized_fields_and_the_raw_json_folded(logged_in, alert):
    html = logged_in.get(f"/events/{alert.pk}/").content.decode()
    for text in ("DiskFull", "critical", "abc123", "Disk almost full", "web-01", "runbook_url", "(alertmanager)"):
        assert text in html, text
    raw = html[html.index('<details class="raw">') :]
    assert "<summary>Raw payload" in raw and "&quot;version&quot;: &quot;4&quot;" in raw
    assert '"alerts": [' not in html  # escaped, never raw


def test_each_binding_says_whether_it_matched_and_why_not(logged_in, alert):
    runbook = make_runbook(name="Disk cleanup", slug="disk")
    ran = make_binding(
        runbook, alert.source, name="Clean disks", match=[{"path": "name", "op": "eq", "value": "DiskFull"}]
    )
    make_binding(runbook, alert.source, name="Prod only", match=[{"path": "labels.env", "op": "eq", "value": "prod"}])
    make_binding(runbook, None, name="On resolve", on_status="resolved")
    make_binding(runbook, alert.source, name="Switched off", enabled=False)
    other, _ = make_source("graf", "grafana")
    make_binding(runbook, other, name="Other source")
    execution = run_of(runbook, "succeeded", event=alert, binding=ran, finished_at=timezone.now())
    html = logged_in.get(f"/events/{alert.pk}/").content.decode()
    table = html[
        html.index('<table class="verdicts">') : html.index("</table>", html.index('<table class="verdicts">'))
    ]
    rows = table.split("<tr")[2:]
    assert "Clean disks" in rows[0] and ">yes<" in rows[0] and f"/executions/{execution.pk}/" in rows[0]
    prod = next(r for r in rows if "Prod only" in r)
    assert ">no<" in prod and "labels.env is &#x27;staging&#x27;, not &#x27;prod&#x27;" in prod
    resolved = next(r for r in rows if "On resolve" in r)
    assert "status is firing, binding runs on resolved" in resolved
    assert "Switched off" not in table and "Other source" not in table


def test_no_binding_says_what_to_do_next(logged_in, alert):
    html = logged_in.get(f"/events/{alert.pk}/").content.decode()
    assert "No enabled binding listens to" in html and 'href="/bindings/"' in html


def test_hostile_alert_text_is_escaped(logged_in, alert):
    Event.objects.filter(pk=alert.pk).update(
        name="<script>alert(1)</script>",
        labels={"<b>k</b>": "<img src=x onerror=alert(1)>"},
        payload={"x": "</pre><script>"},
    )
    html = logged_in.get(f"/events/{alert.pk}/").content.decode()
    assert "<script>" not in html.split("</head>")[1] and "<img src=x" not in html and "<b>k</b>" not in html
    assert "&lt;/pre&gt;&lt;script&gt;" in html


def test_queries_do_not_grow_with_the_bindings_or_executions(logged_in, alert):
    runbook = make_runbook(slug="rb")

    def add(n: int, tag: str):
        for i in range(n):
            binding = make_binding(
                runbook, alert.source, name=f"{tag}{i}", match=[{"path": "labels.env", "op": "eq", "value": "x"}]
            )
            run_of(runbook, "succeeded", event=alert, binding=binding)

    add(1, "a")
    few = queries(logged_in, f"/events/{alert.pk}/")
    add(50, "b")
    assert queries(logged_in, f"/events/{alert.pk}/") == few


def test_unknown_event_is_404(logged_in):
    assert logged_in.get("/events/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert logged_in.get("/events/not-a-uuid/").status_code == 404
