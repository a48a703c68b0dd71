"""An alert storm: 1,000 copies of one alert inside the binding's dedup
window, sent by 8 clients at once to gunicorn, start exactly one run."""

import json
import threading
import urllib.request

import pytest

from events.models import Event
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook, make_source

pytestmark = pytest.mark.django_db(transaction=True)
COPIES, CLIENTS = 1000, 8


def test_a_thousand_copies_of_one_alert_run_once_and_are_all_answered_202(web):
    runbook = make_runbook(name="Restart", kind="shell", script="true")
    source, token = make_source("storm", "generic", rate_limit_per_minute=0)
    make_binding(runbook, source, match=[{"path": "name", "op": "eq", "value": "DiskFull"}], dedup_window_seconds=600)
    base = web()
    body = json.dumps({"name": "DiskFull", "labels": {"instance": "web-01"}}).encode()
    statuses, lock = [], threading.Lock()

    def client(n):
        for _ in range(n):
            request = urllib.request.Request(
                f"{base}/hooks/storm",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response, lock:
                statuses.append(response.status)

    threads = [threading.Thread(target=client, args=(COPIES // CLIENTS,)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [202] * COPIES
    assert Event.objects.filter(source=source).count() == COPIES
    [execution] = Execution.objects.filter(runbook=runbook)
    suppressed = Event.objects.filter(source=source).exclude(suppressed_reason="")
    assert suppressed.count() == COPIES - 1
    assert all(str(execution.pk) in reason for reason in suppressed.values_list("suppressed_reason", flat=True))


def test_concurrent_alertmanager_re_notifications_run_each_alert_once(web):
    """Alertmanager re-sends a group's still-firing alerts; with the default
    window of 0, 80 concurrent re-sends of a two-alert group start two runs."""
    from tests.events.helpers import load

    runbook = make_runbook(name="Clean disk", kind="shell", script="true")
    source, token = make_source("am-storm", "alertmanager", rate_limit_per_minute=0)
    make_binding(runbook, source)
    base = web()
    body = json.dumps(load("alertmanager/firing-two-alerts.json")).encode()
    statuses, lock = [], threading.Lock()

    def client(n):
        for _ in range(n):
            request = urllib.request.Request(
                f"{base}/hooks/am-storm",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response, lock:
                statuses.append(response.status)

    threads = [threading.Thread(target=client, args=(10,)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [202] * 80
    assert Event.objects.filter(source=source).count() == 160
    runs = Execution.objects.filter(runbook=runbook).select_related("event")
    assert sorted(x.event.labels["instance"] for x in runs) == ["web-01:9100", "web-02:9100"]
    assert Event.objects.filter(source=source).exclude(suppressed_reason="").count() == 158
