"""/healthz and /metrics as a load balancer and Prometheus read them."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from runbooks.models import Execution, Worker
from tests.factories import api_token, make_binding, make_runbook, make_source

pytestmark = pytest.mark.django_db


def seen_worker(**fields):
    now = timezone.now()
    defaults = {"name": "w1@host", "host": "host", "pid": 1, "started_at": now, "last_seen_at": now}
    return Worker.objects.create(**{**defaults, **fields})


def test_healthz_needs_a_recent_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["checks"]["database"] == "ok" and body["checks"]["broker"] == "ok"
    assert "no worker seen" in body["checks"]["workers"]
    seen_worker(last_seen_at=timezone.now() - timedelta(minutes=10))
    assert client.get("/healthz/").status_code == 503
    seen_worker(name="w2@host")
    response = client.get("/healthz/")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_metrics_from_localhost_or_with_a_token_only(client, user):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 401
    token = api_token(user)
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    bad = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer stw_nope")
    assert bad.status_code == 401


def metric_lines(client) -> list[str]:
    return client.get("/metrics").content.decode().splitlines()


def test_metrics_count_executions_events_and_webhook_latency(client):
    runbook = make_runbook(parameters={})
    source, token = make_source("gen", "generic")
    make_binding(runbook, source, match=[{"path": "name", "op": "eq", "value": "x"}])
    for _ in range(2):
        client.post(
            "/hooks/gen",
            data=json.dumps({"name": "x"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    now = timezone.now()
    Execution.objects.create(
        runbook=runbook,
        version=runbook.current_version,
        status="succeeded",
        started_at=now - timedelta(seconds=3),
        finished_at=now,
    )
    lines = metric_lines(client)
    assert 'steward_executions{status="queued"} 2.0' in lines
    assert 'steward_executions{status="succeeded"} 1.0' in lines
    assert 'steward_events_total{kind="generic",source="gen"} 2.0' in lines
    assert 'steward_execution_duration_seconds_bucket{le="2.0"} 0.0' in lines
    assert 'steward_execution_duration_seconds_bucket{le="5.0"} 1.0' in lines
    assert any(line.startswith("steward_oldest_queued_execution_age_seconds ") for line in lines)
    assert any(line.startswith('steward_webhook_request_duration_seconds_count{status="202"}') for line in lines)
