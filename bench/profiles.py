"""Where a webhook request's time goes: the webhook in process (Django's
test client, the real database and broker, no HTTP server), under cProfile,
with the queries one request makes. Writes the full profile beside the
figures; prints the functions that take the most."""

import contextlib
import cProfile
import io
import json
import pstats
import time

from bench.procs import ROOT
from bench.report import Figure


@contextlib.contextmanager
def no_query_reset():
    """Django empties the query log at every request_started: a capture
    around a test-client request would see none without this."""
    from django.core import signals
    from django.db import reset_queries

    signals.request_started.disconnect(reset_queries)
    try:
        yield
    finally:
        signals.request_started.connect(reset_queries)


def _area(filename: str) -> str:
    """Who owns a function: a package of site-packages, an app of ours, or Python."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.startswith(str(ROOT)):
        return filename[len(str(ROOT)) + 1 :].split("/", 1)[0] + " (steward)"
    return "python stdlib and builtins"


def by_area(stats: pstats.Stats) -> str:
    """Own time summed by owner: where the CPU goes, not which call is slow."""
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():
        totals[_area(filename)] = totals.get(_area(filename), 0.0) + own
    whole = sum(totals.values()) or 1
    rows = sorted(totals.items(), key=lambda item: -item[1])
    return "\n".join(f"  {seconds / whole:6.1%}  {area}" for area, seconds in rows[:15])


def _write(path, title: str, profiler: cProfile.Profile, queries) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    areas = by_area(stats)
    stats.sort_stats("cumulative").print_stats(150)
    stats.sort_stats("tottime").print_stats(40)
    listed = "\n".join(f"{float(q['time']) * 1000:6.2f} ms  {q['sql'][:300]}" for q in queries)
    path.write_text(f"{title}\n\nown time by owner:\n{areas}\n\nthe queries of one:\n{listed}\n\n{out.getvalue()}")
    return areas


def profile_webhook(ctx) -> tuple[list[Figure], list[str]]:
    """The webhook in process; returns the executions it created (queued on
    the ingest queue, which no worker consumes)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {ctx.token}")
    created = []

    def post(i: int):
        body = {"name": "DiskFull", "severity": "critical", "labels": {"instance": f"profile-{i}", "job": "node"}}
        response = client.post(f"/hooks/{ctx.source_slug}", data=json.dumps(body), content_type="application/json")
        if response.status_code != 202:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.content[:300]!r}")
        created.extend(response.json()["executions"])

    for i in range(20):
        post(i)
    with no_query_reset(), CaptureQueriesContext(connection) as captured:
        post(-1)
    queries = list(captured.captured_queries)  # the log is emptied at the next request
    count = ctx.samples * 3
    # Without the profiler first: what one request costs, beside the bare view.
    bare = Client()
    started = time.perf_counter()
    for i in range(count):
        bare.post("/bench/bare", data=json.dumps({"name": "DiskFull", "i": i}), content_type="application/json")
    bare_ms = (time.perf_counter() - started) / count * 1000
    started = time.perf_counter()
    for i in range(count):
        post(100_000 + i)
    plain_ms = (time.perf_counter() - started) / count * 1000
    ctx.log(f"  in process, one at a time: webhook {plain_ms:.2f} ms a request, bare view {bare_ms:.2f} ms")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for i in range(count):
        post(1000 + i)
    profiler.disable()
    per_request_ms = (time.perf_counter() - started) / count * 1000
    path = ctx.artifacts / "profile-webhook.txt"
    areas = _write(path, f"{count} webhook requests, {per_request_ms:.2f} ms each under cProfile", profiler, queries)
    ctx.log("  webhook, own time by owner (top 6):\n" + "\n".join(areas.splitlines()[:6]))
    ctx.log(f"  webhook: {len(queries)} queries, {per_request_ms:.2f} ms per request in process (profiled): {path}")
    figures = [
        Figure("profile", "queries per webhook request (distinct alert)", len(queries), "queries"),
        Figure("profile", "webhook in process, one request", plain_ms, "ms", bare_ms, "bare view", ratio_kind="times"),
    ]
    return figures, created


def profile_worker(ctx, execution_ids: list[str]) -> list[Figure]:
    """What a worker does for one run, in process: claim, audit, the
    runner's setup, the process, the finish."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from runbooks import worker as execution
    from runbooks.models import Execution

    ids = execution_ids[: max(10, ctx.samples // 2)]
    with CaptureQueriesContext(connection) as captured:
        execution.run(ids[0], worker="profile")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for pk in ids[1:]:
        execution.run(pk, worker="profile")
    profiler.disable()
    per_run_ms = (time.perf_counter() - started) / (len(ids) - 1) * 1000
    failed = Execution.objects.filter(pk__in=ids).exclude(status="succeeded").count()
    path = ctx.artifacts / "profile-worker.txt"
    _write(path, f"{len(ids) - 1} runs, {per_run_ms:.1f} ms each under cProfile", profiler, captured)
    ctx.log(f"  worker: {len(captured)} queries, {per_run_ms:.1f} ms a run in process, {failed} failed: {path}")
    return [Figure("profile", "queries per run in the worker", len(captured), "queries")]


def run(ctx) -> list[Figure]:
    figures, created = profile_webhook(ctx)
    return figures + profile_worker(ctx, created)
