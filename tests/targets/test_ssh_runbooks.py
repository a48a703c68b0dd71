"""`ssh` runbooks end to end: targets through the API, an alert through the
real webhook, a real Celery worker, and a real OpenSSH server on loopback
(tests/sshd.py) standing in for the machines."""

import json

import pytest

from audit.models import AuditEntry
from runbooks import secret_store
from runbooks.models import LogLine
from tests.conftest import load_fixture, wait_for
from tests.factories import api_token, make_binding, make_runbook, make_source, make_user
from tests.processes import final, processes_of
from tests.sshd import wait_gone

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
KEY = "SSH_DEPLOY_KEY"


@pytest.fixture
def fleet(client, sshd):
    """web-01, web-02 and db-01, all on the loopback sshd, added through the
    API by an author; the credential allowed for `allow` runbooks later."""
    author = make_user("author", username="fleet-author")
    admin = make_user("admin", username="fleet-admin")
    secret = secret_store.create(KEY, sshd.client_key, "deploy key", secret_store.trail.SYSTEM, user=admin)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token(author)}"}
    scanned = client.post(
        "/api/v1/targets/scan/",
        {"address": sshd.address, "port": sshd.port},
        content_type="application/json",
        **headers,
    )
    assert scanned.status_code == 200, scanned.content
    assert scanned.json()["host_key"].split()[:2] == sshd.host_key.split()[:2]
    for name, labels in [("web-01", {"role": "web"}), ("web-02", {"role": "web"}), ("db-01", {"role": "db"})]:
        body = {
            "name": name,
            "address": sshd.address,
            "port": sshd.port,
            "user": sshd.user,
            "labels": {**labels, "dc": "east"},
            "host_key": scanned.json()["host_key"],
            "credential": KEY,
        }
        response = client.post("/api/v1/targets/", body, content_type="application/json", **headers)
        assert response.status_code == 201, response.content

    def allow(runbook):
        secret.allowed_runbooks.add(runbook)

    return allow


def texts(execution):
    return list(LogLine.objects.filter(execution=execution).order_by("n").values_list("text", flat=True))


def test_an_alert_for_an_instance_runs_on_exactly_that_target(client, worker, fleet):
    runbook = make_runbook(
        name="Clean disk",
        kind="ssh",
        script='echo "cleaning $STEWARD_TARGET for $PARAM_ALERT"',
        targets={"from_event": "{{ event.labels.instance | host }}"},
    )
    fleet(runbook)
    source, token = make_source("am", "alertmanager")
    make_binding(runbook, source, parameters={"alert": "{{ event.name }}"})
    response = client.post(
        "/hooks/am",
        data=json.dumps(load_fixture("alertmanager/firing-two-alerts.json")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 202
    runs = [final(pk) for pk in response.json()["executions"]]
    by_host = {x.event.labels["instance"]: x for x in runs}
    for instance, name in [("web-01:9100", "web-01"), ("web-02:9100", "web-02")]:
        x = by_host[instance]
        assert x.status == "succeeded", x.error
        assert [t["name"] for t in x.result["targets"]] == [name]
        assert texts(x) == [f"[{name}] cleaning {name} for HighDiskUsage"]
    connected = AuditEntry.objects.filter(action="target.connected")
    assert sorted(e.object_id for e in connected) == ["web-01", "web-02"]
    assert all(e.after["client_key_fingerprint"].startswith("SHA256:") for e in connected)


def test_a_label_selector_runs_on_exactly_the_matching_set_with_per_target_logs(client, worker, fleet):
    runbook = make_runbook(
        name="Reload",
        slug="reload",
        kind="ssh",
        script="echo reloaded on $STEWARD_TARGET",
        targets={"selector": "role=web,dc=east"},
    )
    fleet(runbook)
    responder = make_user("responder", username="on-call")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token(responder)}"}
    started = client.post("/api/v1/runbooks/reload/run/", {}, content_type="application/json", **headers)
    assert started.status_code == 202
    x = final(started.json()["execution"])
    assert x.status == "succeeded", x.error
    assert [(t["name"], t["status"]) for t in x.result["targets"]] == [("web-01", "succeeded"), ("web-02", "succeeded")]
    assert sorted(texts(x)) == ["[web-01] reloaded on web-01", "[web-02] reloaded on web-02"]


def test_an_unknown_name_and_a_target_without_its_key_fail_while_the_others_run(client, worker, fleet):
    runbook = make_runbook(name="Names", kind="ssh", script="echo ok", targets={"names": ["web-01", "web-09"]})
    fleet(runbook)
    x = final(client_run(client, runbook))
    assert x.status == "failed"
    statuses = {t["name"]: (t["status"], t["error"]) for t in x.result["targets"]}
    assert statuses["web-01"] == ("succeeded", "")
    assert statuses["web-09"][0] == "failed" and "Unknown target" in statuses["web-09"][1]
    # A runbook the credential does not allow gets no key: each target fails saying so.
    other = make_runbook(name="Not allowed", kind="ssh", script="echo ok", targets={"names": ["web-01"]})
    y = final(client_run(client, other))
    assert y.status == "failed" and "do not allow this runbook" in y.result["targets"][0]["error"]


def test_cancel_stops_the_remote_commands(client, worker, fleet):
    runbook = make_runbook(name="Slow", kind="ssh", script="echo started\nsleep 300", targets={"selector": "role=web"})
    fleet(runbook)
    responder = make_user("responder", username="canceller")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token(responder)}"}
    pk = client_run(client, runbook)
    wait_for(lambda: LogLine.objects.filter(execution_id=pk).count() == 2, timeout=20, what="both targets to start")
    remote = wait_for(lambda: processes_of(pk), what="the remote processes")
    response = client.post(f"/api/v1/executions/{pk}/cancel/", {}, content_type="application/json", **headers)
    assert response.status_code in (200, 202), response.content
    x = final(pk)
    assert x.status == "cancelled"
    wait_gone(remote)
    assert processes_of(pk) == []


def test_a_viewer_sees_per_target_logs_and_never_a_key(client, worker, fleet, sshd):
    runbook = make_runbook(
        name="Leaky", kind="ssh", script='echo "key: $(cat /dev/null)"; echo done', targets={"names": ["db-01"]}
    )
    fleet(runbook)
    pk = client_run(client, runbook)
    assert final(pk).status == "succeeded"
    viewer = make_user("viewer", username="watcher")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token(viewer)}"}
    seen = ""
    for url in [
        "/api/v1/targets/",
        "/api/v1/targets/db-01/",
        f"/api/v1/executions/{pk}/",
        f"/api/v1/executions/{pk}/log/",
        "/api/v1/secrets/",
        "/api/v1/audit/",
    ]:
        response = client.get(url, **headers)
        assert response.status_code == 200, url
        seen += response.content.decode()
    assert "[db-01] done" in seen
    key_lines = [line for line in sshd.client_key.splitlines() if line and "PRIVATE KEY" not in line]
    assert "PRIVATE KEY" not in seen and not any(line in seen for line in key_lines)
    assert client.post("/api/v1/targets/", {}, content_type="application/json", **headers).status_code == 403


def client_run(client, runbook) -> str:
    user = make_user("responder", username=f"runner-{runbook.slug}")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token(user)}"}
    response = client.post(f"/api/v1/runbooks/{runbook.slug}/run/", {}, content_type="application/json", **headers)
    assert response.status_code == 202, response.content
    return response.json()["execution"]
