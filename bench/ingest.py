"""Webhook ingest, in process: how many alerts per second Steward's own code
(parsing, matching, rendering, one transaction with audit entries) takes,
without the HTTP server and the network. Prints figures; not a test.

    make bench                       # SQLite under a throwaway var dir
    DATABASE_URL=postgres://... make bench

The full, production-shaped benchmark (gunicorn, workers, ceilings) is
still to come (see the performance issue).
"""

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("STEWARD_VAR_DIR", tempfile.mkdtemp(prefix="steward-bench-"))
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("STEWARD_ENCRYPTION_KEY", "YmVuY2gtb25seS1iZW5jaC1vbmx5LWJlbmNoLW9ubHk=")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit import trail
from events.models import Binding, Source
from runbooks import services
from runbooks.models import Runbook

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "500"))


def setup() -> str:
    call_command("migrate", verbosity=0)
    runbook = Runbook.objects.filter(slug="bench").first()
    if runbook is None:
        runbook = Runbook(slug="bench", name="Bench")
        services.save_runbook(runbook, {"kind": "shell", "script": "true", "parameters": {}}, trail.SYSTEM)
    source = Source.objects.filter(slug="bench").first() or Source(slug="bench", name="Bench", kind="generic")
    source.rate_limit_per_minute = 0  # measure the webhook, not the limiter refusing it
    token = source.rotate_token()
    source.save()
    Binding.objects.get_or_create(
        name="bench",
        source=source,
        runbook=runbook,
        defaults={
            "match": [{"path": "severity", "op": "eq", "value": "critical"}],
            "parameters": {"host": "{{ event.labels.instance }}"},
        },
    )
    return token


def main() -> None:
    token = setup()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    # Publishing to the broker is not what this measures: no worker consumes.
    services.publish = lambda jobs: None
    timings = []
    started = time.perf_counter()
    for i in range(REQUESTS):
        body = json.dumps({"name": "DiskFull", "severity": "critical", "labels": {"instance": f"web-{i}"}})
        t0 = time.perf_counter()
        response = client.post("/hooks/bench", data=body, content_type="application/json")
        timings.append(time.perf_counter() - t0)
        assert response.status_code == 202, response.content
    elapsed = time.perf_counter() - started
    with CaptureQueriesContext(connection) as queries:
        client.post(
            "/hooks/bench",
            data=json.dumps({"name": "X", "severity": "critical", "labels": {"instance": "q"}}),
            content_type="application/json",
        )
    timings.sort()
    print(f"database: {connection.vendor}; {REQUESTS} webhook requests, one alert and one matching binding each")
    print(f"  throughput  {REQUESTS / elapsed:8.0f} requests/s (one client, in process)")
    print(f"  latency p50 {statistics.median(timings) * 1000:8.2f} ms")
    print(f"  latency p99 {timings[int(len(timings) * 0.99) - 1] * 1000:8.2f} ms")
    print(f"  queries per request: {len(queries)}")


if __name__ == "__main__":
    main()
