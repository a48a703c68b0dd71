"""Cron schedules through the API, fired by the sweep."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from runbooks import schedules
from runbooks.models import Execution, Schedule, ScheduledRun
from tests.factories import HOST_SCHEMA, make_runbook

pytestmark = pytest.mark.django_db


def create(api, **fields):
    body = {
        "name": "nightly",
        "runbook": "rb",
        "cron": "0 3 * * *",
        "timezone": "Europe/Paris",
        "parameters": {"host": "db-1"},
        **fields,
    }
    return api.post("/api/v1/schedules/", data=json.dumps(body), content_type="application/json")


def test_a_schedule_previews_its_next_runs_in_its_time_zone(api):
    make_runbook(slug="rb", parameters=HOST_SCHEMA)
    response = create(api)
    assert response.status_code == 201, response.json()
    body = response.json()
    runs = [datetime.fromisoformat(t) for t in body["next_runs"]]
    assert len(runs) == 5 and runs == sorted(runs)
    # 03:00 in Paris is 01:00 or 02:00 UTC depending on daylight saving time.
    assert all(t.astimezone(UTC).hour in (1, 2) and t.minute == 0 for t in runs)
    assert datetime.fromisoformat(body["next_run_at"]) == runs[0]
    assert AuditEntry.objects.filter(action="schedule.created").exists()


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"cron": "every day"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"parameters": {}}, "parameters"),
        ({"runbook": "missing"}, "runbook"),
    ],
)
def test_invalid_schedules_are_400_on_the_field(api, bad, field):
    make_runbook(slug="rb", parameters=HOST_SCHEMA)
    response = create(api, **bad)
    assert response.status_code == 400 and field in response.json()["errors"]
    assert Schedule.objects.count() == 0


def test_a_due_schedule_fires_once_and_a_missed_day_runs_once_not_per_slot(api):
    make_runbook(slug="rb", parameters=HOST_SCHEMA)
    schedule = Schedule.objects.get(pk=create(api, cron="*/5 * * * *").json()["id"])
    # Down for a day: 288 slots missed.
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - timedelta(days=1))
    assert schedules.fire_due() == 1
    assert schedules.fire_due() == 0  # the next slot is in the future
    [execution] = Execution.objects.all()
    assert execution.parameters == {"host": "db-1"} and execution.status == "queued"
    assert ScheduledRun.objects.get(execution=execution).schedule == schedule
    schedule.refresh_from_db()
    assert timezone.now() < schedule.next_run_at <= timezone.now() + timedelta(minutes=5)
    assert AuditEntry.objects.filter(action="execution.created", actor_kind="schedule").exists()


def test_a_disabled_schedule_does_not_fire(api):
    make_runbook(slug="rb", parameters=HOST_SCHEMA)
    schedule_id = create(api, enabled=False).json()["id"]
    Schedule.objects.filter(pk=schedule_id).update(next_run_at=timezone.now() - timedelta(minutes=1))
    assert schedules.fire_due() == 0
    patched = api.patch(
        f"/api/v1/schedules/{schedule_id}/", data=json.dumps({"enabled": True}), content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["next_runs"]
