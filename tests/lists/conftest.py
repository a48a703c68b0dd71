"""Enough rows of every list, each with its related objects (runbook,
version, event, source, binding), so that an N+1 query shows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit import trail
from events.models import Binding, Event
from runbooks.models import Execution
from tests.factories import make_runbook, make_source

ROWS = 120  # more than the largest page the tests ask for (100)


@pytest.fixture
def crowd(db):
    """ROWS of each list: runbooks, sources, bindings, events, executions, audit entries."""
    now = timezone.now()
    runbooks = [make_runbook(name=f"Runbook {i:03d}", slug=f"rb-{i:03d}") for i in range(ROWS)]
    sources = [make_source(slug=f"src-{i:03d}")[0] for i in range(ROWS)]
    Binding.objects.bulk_create(
        Binding(name=f"binding {i:03d}", runbook=runbooks[i], source=sources[i], match=[], parameters={})
        for i in range(ROWS)
    )
    bindings = list(Binding.objects.order_by("name"))
    events = Event.objects.bulk_create(
        Event(
            source=sources[i % 7],
            received_at=now - timedelta(minutes=i),
            status="firing",
            name=f"DiskFull {i}",
            fingerprint=f"fp-{i}",
            summary=f"disk of web-{i:03d} is full",
        )
        for i in range(ROWS)
    )
    Execution.objects.bulk_create(
        Execution(
            runbook=runbooks[i % 11],
            version=runbooks[i % 11].current_version,
            status="failed" if i % 3 else "succeeded",
            parameters={"host": f"web-{i:03d}"},
            event=events[i],
            source=events[i].source,
            binding=bindings[i % 11],
            created_at=now - timedelta(minutes=i),
        )
        for i in range(ROWS)
    )
    for i in range(ROWS):
        trail.record(trail.SYSTEM, trail.Change("test.noted", "thing", f"thing-{i}"))
    return {"runbooks": runbooks, "sources": sources, "bindings": bindings, "events": events}
