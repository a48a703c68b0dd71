"""History: the pages people open, on a database holding 1,000,000
executions, 10,000,000 log lines and 1,000,000 events.

The rows are generated inside PostgreSQL (INSERT ... SELECT FROM
generate_series) in steward_bench, in chunks that each commit (a killed load
resumes at the next chunk; no step takes minutes), once: later runs reuse
them. The runbooks, sources, bindings and the user come from Steward's own
services; the columns a chunk does not name get their model default, so a
field added later by a migration needs no change here.

Run in its own process on that database (the orchestrator's Django is on
the live one):
    python -m bench.history prepare   # load if needed; prints sample ids,
                                      # a session cookie, query counts, plans
"""

import hashlib
import json
import random
import sys
import time
import uuid
from pathlib import Path

EXECUTIONS = 1_000_000
LOG_LINES_PER_EXECUTION = 10
EVENTS = 1_000_000
CHUNK = 100_000  # executions (and their 1M log lines) or events per transaction
SPAN_DAYS = 90
RUNBOOKS = 20
LOAD_VERSION = 1  # bump when the generated shape changes: the next run reloads
USERNAME = "bench"


def execution_id(i: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-execution-{i}".encode()).hexdigest())


def event_id(i: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-event-{i}".encode()).hexdigest())


# --- loading ------------------------------------------------------------------------


def _insert_sql(model, exprs: dict[str, str]) -> tuple[str, dict]:
    """INSERT ... SELECT <exprs> FROM generate_series(%(a)s, %(b)s) g(i):
    the columns `exprs` does not name get NULL or the model's default."""
    from django.db import connection

    columns, selects, params = [], [], {}
    for field in model._meta.concrete_fields:
        if field.name in exprs or field.attname in exprs:
            expr = exprs.get(field.name, exprs.get(field.attname))
        elif field.primary_key and field.get_internal_type() in ("AutoField", "BigAutoField"):
            continue
        elif field.null:
            expr = "NULL"
        elif field.has_default() or field.empty_strings_allowed:  # "" for a text field without one
            expr = f"%(default_{field.column})s"
            params[f"default_{field.column}"] = field.get_db_prep_save(field.get_default(), connection)
        else:
            raise RuntimeError(f"bench/history.py: say what {model.__name__}.{field.name} holds")
        columns.append(field.column)
        selects.append(expr)
    table = model._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)}"
    sql += " FROM generate_series(%(a)s, %(b)s) g(i)"
    return sql, params


def _fixtures() -> dict:
    """Runbooks, sources, bindings and the user, through Steward's services."""
    from django.contrib.auth import get_user_model

    from audit import trail
    from events import webhooks
    from events.models import Binding, Source
    from runbooks import versions
    from runbooks.models import Runbook

    user_model = get_user_model()
    if not user_model.objects.filter(username=USERNAME).exists():
        user_model.objects.create_superuser(USERNAME, "bench@example.com", uuid.uuid4().hex)
    runbooks = []
    for n in range(RUNBOOKS):
        runbook = Runbook.objects.filter(slug=f"rb-{n:02}").first()
        if runbook is None:
            runbook = Runbook(slug=f"rb-{n:02}", name=f"Remediation {n:02}", team=f"team-{n % 4}")
            versions.save_runbook(
                runbook,
                {
                    "kind": "python" if n % 2 else "shell",
                    "script": "print('checking')\n" * 5,
                    "parameters": {"type": "object", "properties": {"host": {"type": "string"}}},
                },
                trail.SYSTEM,
            )
        runbooks.append(runbook)
    sources = []
    for slug, kind in (("prometheus", "alertmanager"), ("grafana", "grafana"), ("generic", "generic")):
        source = Source.objects.filter(slug=slug).first()
        if source is None:
            source, _ = webhooks.create_source({"name": slug.title(), "slug": slug, "kind": kind}, trail.SYSTEM)
        sources.append(source)
    bindings = []
    for n in range(5):
        binding = Binding.objects.filter(name=f"bench-binding-{n}").first() or Binding.objects.create(
            name=f"bench-binding-{n}",
            source=sources[n % 3],
            runbook=runbooks[n],
            match=[{"path": "severity", "op": "eq", "value": "critical"}],
            parameters={"host": "{{ event.labels.instance }}"},
        )
        bindings.append(binding)
    return {
        "runbooks": [r.pk for r in runbooks],
        "versions": [r.current_version_id for r in runbooks],
        "sources": [s.pk for s in sources],
        "bindings": [str(b.pk) for b in bindings],
    }


# Row i of N: the newest is i = N. Executions and events share the clock so
# that execution i (when it has an event) follows event i by 200 ms.
_AT = f"now() - interval '{SPAN_DAYS} days' * (%(n)s - g.i)::float / %(n)s"

EVENT_EXPRS = {
    "id": "md5('bench-event-' || g.i)::uuid",
    "source_id": "(%(sources)s::bigint[])[1 + g.i %% 3]",
    "received_at": _AT,
    "status": "CASE WHEN g.i %% 7 = 0 THEN 'resolved' ELSE 'firing' END",
    "name": "(ARRAY['DiskFull','HighLoad','ServiceDown','CertExpiring','OOMKilled','LatencyHigh'])[1 + g.i %% 6]",
    "severity": "(ARRAY['critical','warning','info'])[1 + g.i %% 3]",
    "fingerprint": "md5('fp-' || (g.i %% 6) || '-' || (g.i %% 500))",
    "summary": "'Disk /var on web-' || (g.i %% 500) || ' is 95%% full'",
    "labels": "jsonb_build_object('instance', 'web-' || (g.i %% 500), 'job', 'node', 'team', 'team-' || (g.i %% 4))",
    "annotations": "jsonb_build_object('summary', 'Something on web-' || (g.i %% 500), 'runbook_url', 'https://wiki/x')",
    "payload": "jsonb_build_object('receiver', 'steward', 'status', 'firing', 'groupKey', md5(g.i::text), "
    "'alerts', jsonb_build_array(jsonb_build_object('labels', jsonb_build_object('instance', 'web-' || (g.i %% 500)), "
    "'startsAt', now()::text, 'generatorURL', 'http://prometheus:9090/graph?g0.expr=up')))",
    "suppressed_reason": "''",
}

# Status by i mod 100: 85 succeeded, 8 failed, 3 timed out, then one each of
# cancelled, skipped, lost, rejected; the newest few are still live.
_STATUS = (
    "CASE WHEN g.i > %(n)s - 5 THEN 'running' WHEN g.i > %(n)s - 10 THEN 'awaiting_approval' "
    "WHEN g.i > %(n)s - 15 THEN 'queued' "
    "WHEN g.i %% 100 < 85 THEN 'succeeded' WHEN g.i %% 100 < 93 THEN 'failed' WHEN g.i %% 100 < 96 THEN 'timed_out' "
    "WHEN g.i %% 100 = 96 THEN 'cancelled' WHEN g.i %% 100 = 97 THEN 'skipped' WHEN g.i %% 100 = 98 THEN 'lost' "
    "ELSE 'rejected' END"
)
_FINISHED = "(g.i <= %(n)s - 15 AND g.i %% 100 <> 97)"
EXECUTION_EXPRS = {
    "id": "md5('bench-execution-' || g.i)::uuid",
    "runbook_id": "(%(runbooks)s::bigint[])[1 + g.i %% 20]",
    "version_id": "(%(versions)s::bigint[])[1 + g.i %% 20]",
    "status": _STATUS,
    "parameters": "jsonb_build_object('host', 'web-' || (g.i %% 500))",
    # Four in five runs come from an alert (event i), the rest were manual.
    "event_id": "CASE WHEN g.i %% 5 <> 0 THEN md5('bench-event-' || g.i)::uuid END",
    "binding_id": "CASE WHEN g.i %% 5 <> 0 THEN (%(bindings)s::uuid[])[1 + g.i %% 5] END",
    "created_at": f"{_AT} + interval '200 ms'",
    "enqueued_at": f"{_AT} + interval '200 ms'",
    # Cancelled, skipped and rejected runs never started; the live ones did.
    "started_at": f"CASE WHEN g.i %% 100 < 96 OR g.i %% 100 = 98 OR g.i > %(n)s - 5 THEN {_AT} + interval '250 ms' END",
    "heartbeat_at": f"{_AT} + interval '2 s'",
    "finished_at": f"CASE WHEN {_FINISHED} THEN {_AT} + interval '2 s' END",
    "host": "'bench-host'",
    "worker": "'steward@bench-host'",
    "exit_code": "CASE WHEN g.i %% 100 < 85 THEN 0 WHEN g.i %% 100 < 93 THEN 1 END",
    "result": "CASE WHEN g.i %% 100 < 85 THEN jsonb_build_object('freed_mb', g.i %% 1000) END",
    "error": "CASE WHEN g.i %% 100 BETWEEN 85 AND 92 THEN 'exit 1' ELSE '' END",
    "log_count": str(LOG_LINES_PER_EXECUTION),
}

LOG_SQL = f"""
INSERT INTO runbooks_logline (execution_id, n, t, stream, text)
SELECT md5('bench-execution-' || g.i)::uuid, l.n, {_AT} + interval '250 ms' + l.n * interval '100 ms',
       CASE WHEN l.n = {LOG_LINES_PER_EXECUTION} AND g.i %% 100 BETWEEN 85 AND 92 THEN 'stderr' ELSE 'stdout' END,
       'step ' || l.n || ': checking /var on web-' || (g.i %% 500) || ', ' || (g.i * l.n %% 9973) || ' MB free'
FROM generate_series(%(a)s, %(b)s) g(i) CROSS JOIN generate_series(1, {LOG_LINES_PER_EXECUTION}) l(n)
ORDER BY g.i, l.n
"""


def _state_table(cursor) -> None:
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS bench_history_progress"
        " (step text PRIMARY KEY, version int NOT NULL, done_at timestamptz)"
    )


def _done(cursor, step: str) -> bool:
    cursor.execute("SELECT version FROM bench_history_progress WHERE step = %s", [step])
    row = cursor.fetchone()
    return bool(row and row[0] == LOAD_VERSION)


def _mark(cursor, step: str) -> None:
    cursor.execute(
        "INSERT INTO bench_history_progress (step, version, done_at) VALUES (%s, %s, now()) "
        "ON CONFLICT (step) DO UPDATE SET version = EXCLUDED.version, done_at = now()",
        [step, LOAD_VERSION],
    )


def load(log) -> None:
    from django.db import connection, transaction

    from events.models import Event
    from runbooks.models import Execution

    with connection.cursor() as cursor:
        _state_table(cursor)
        if _done(cursor, "complete"):
            return
        cursor.execute("SELECT count(*) FROM bench_history_progress WHERE version <> %s", [LOAD_VERSION])
        if cursor.fetchone()[0]:
            raise SystemExit("steward_bench holds an older history shape: drop it (DROP DATABASE steward_bench)")
    log("  loading the history into steward_bench (once; later runs reuse it)")
    ids = _fixtures()
    steps = []
    event_sql, event_params = _insert_sql(Event, EVENT_EXPRS)
    execution_sql, execution_params = _insert_sql(Execution, EXECUTION_EXPRS)
    for a in range(1, EVENTS + 1, CHUNK):
        steps.append((f"events {a}", event_sql, event_params, a, min(EVENTS, a + CHUNK - 1), EVENTS))
    for a in range(1, EXECUTIONS + 1, CHUNK):
        b = min(EXECUTIONS, a + CHUNK - 1)
        steps.append((f"executions {a}", execution_sql, execution_params, a, b, EXECUTIONS))
        steps.append((f"log lines {a}", LOG_SQL, {}, a, b, EXECUTIONS))
    for name, sql, defaults, a, b, n in steps:
        with transaction.atomic(), connection.cursor() as cursor:
            if _done(cursor, name):
                continue
            started = time.monotonic()
            cursor.execute(sql, {**ids, **defaults, "n": n, "a": a, "b": b})
            rows = cursor.rowcount
            _mark(cursor, name)
            log(f"    {name}..{b}: {rows:,} rows in {time.monotonic() - started:.1f}s")
    with connection.cursor() as cursor:
        started = time.monotonic()
        for table in ("events_event", "runbooks_execution", "runbooks_logline"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        log(f"    vacuum analyze: {time.monotonic() - started:.1f}s")
        _mark(cursor, "complete")


def keep_current(log) -> None:
    """Bring a history loaded hours or days ago up to now, as a running
    Steward would have it: the newest run is from a moment ago (shifting
    every run and event by the lag; the log lines keep their times), and
    the dashboard's hourly rollups are caught up as the workers' sweep
    would have done (reports/rollups.py, where it exists)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT now() - max(created_at) FROM runbooks_execution")
        (lag,) = cursor.fetchone()
        shifted = lag is not None and lag.total_seconds() > 3600
        if shifted:
            started = time.monotonic()
            cursor.execute(
                "UPDATE runbooks_execution SET created_at = created_at + %(lag)s, enqueued_at = enqueued_at + %(lag)s,"
                " started_at = started_at + %(lag)s, finished_at = finished_at + %(lag)s,"
                " heartbeat_at = heartbeat_at + %(lag)s",
                {"lag": lag},
            )
            cursor.execute("UPDATE events_event SET received_at = received_at + %(lag)s", {"lag": lag})
            for table in ("events_event", "runbooks_execution"):
                cursor.execute(f"VACUUM ANALYZE {table}")
            log(f"    history moved {lag} forward to now ({time.monotonic() - started:.0f}s)")
    try:
        from reports import rollups
        from runbooks.models import RolledHour
    except ImportError:
        return
    if shifted:
        RolledHour.objects.all().delete()  # every hour changed: roll them all again
    started, total = time.monotonic(), 0
    for _ in range(30):  # the sweep catches up a day of hours at a time
        rolled = rollups.refresh()
        total += rolled
        if rolled <= 1:
            break
    log(f"    rollups caught up: {total} hours rolled ({time.monotonic() - started:.0f}s)")


# --- what the pages are measured on -----------------------------------------------


def pages(sample: int, seed: int = 8) -> dict[str, list[str]]:
    """Each page's URLs: one for the dashboard and the list, `sample`
    different rows for the execution and event pages (cold rows too)."""
    rng = random.Random(seed)
    return {
        "dashboard": ["/"],
        "executions filtered": ["/executions/?status=failed&runbook=rb-07"],
        "execution page": [f"/executions/{execution_id(rng.randint(1, EXECUTIONS))}/" for _ in range(sample)],
        "event page": [f"/events/{event_id(rng.randint(1, EVENTS))}/" for _ in range(sample)],
    }


def _queries(urls: dict[str, list[str]], artifacts: Path) -> dict:
    """Query count of each page, in process, and the plan of its slowest query."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.profiles import no_query_reset

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    counts, plans = {}, []
    for name, page_urls in urls.items():
        url = page_urls[-1]
        client.get(url)  # warm: the session and the user are not what is counted
        with no_query_reset(), CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        counts[name] = len(captured)
        plans.append(f"== {name} ({url}): {len(captured)} queries")
        plans += [f"   {float(q['time']) * 1000:7.1f} ms  {q['sql'][:160]}" for q in captured.captured_queries]
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:2]
        for query in slowest:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
            plans.append(f"-- {name} ({url}): {float(query['time']) * 1000:.1f} ms in Django\n{query['sql']}\n{plan}\n")
    (artifacts / "history-plans.txt").write_text("\n".join(plans))
    return {"query_counts": counts, "session_cookie": client.cookies[settings.SESSION_COOKIE_NAME].value}


def prepare(sample: int, artifacts: Path) -> dict:
    def log(text):
        print(text, file=sys.stderr, flush=True)

    load(log)
    keep_current(log)
    urls = pages(sample)
    return {"urls": urls, **_queries(urls, artifacts)}


if __name__ == "__main__":
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")  # no static files in this process

    django.setup()
    command, sample, artifacts = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    if command == "prepare":
        print(json.dumps(prepare(sample, artifacts)))
