"""Dispatch: from the webhook's 202 to the runbook's process running its
first line (the runbook writes time.time() into its result), one alert at a
time on idle workers; beside it the round trip of a bare Celery task on the
same broker and workers (publish, run, answer through Redis).

Throughput: trivial runbooks finished per second by two worker processes,
beside the bare rate of spawning the same interpreter on the same script,
two at a time, and the rate of spawning it inside the runbook sandbox
(bwrap with the namespaces every run gets): what containment costs."""

import http.client
import json
import os
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

from bench.report import Figure

# What the runbook does: note when it started, nothing else.
RUNBOOK_SCRIPT = """import json, os, time
t0 = time.time()
with open(os.environ["STEWARD_RESULT"], "w") as f:
    json.dump({"t0": t0}, f)
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Hook:
    """One kept-alive HTTP connection posting alerts to the webhook."""

    def __init__(self, web_url: str, slug: str, token: str):
        parts = urlsplit(web_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.path = f"/hooks/{slug}"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, body) -> tuple[float, dict]:
        """(time.time() when the 202 arrived, its JSON)."""
        self.conn.request("POST", self.path, json.dumps(body), self.headers)
        response = self.conn.getresponse()
        data = response.read()
        at = time.time()
        if response.status != 202:
            raise RuntimeError(f"webhook answered {response.status}: {data[:300]!r}")
        return at, json.loads(data)


def _finished(ids: list[str], timeout: float) -> list:
    from runbooks.models import Execution

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(Execution.objects.filter(pk__in=ids, finished_at__isnull=False))
        if len(rows) == len(ids):
            return rows
        time.sleep(0.01)
    raise RuntimeError(f"{len(ids)} executions did not all finish within {timeout}s")


def measure_dispatch(ctx, count: int) -> tuple[list[float], list[float]]:
    """(202 → runbook's first line, 202 → claimed by the worker) in ms."""
    hook = Hook(ctx.web_url, ctx.source_slug, ctx.token)
    to_process, to_claim = [], []
    for i in range(count + 3):  # the first three warm the workers up
        at, reply = hook.post({"name": "BenchDispatch", "severity": "info", "labels": {"instance": f"d-{i}"}})
        (row,) = _finished(reply["executions"], 30)
        if row.status != "succeeded" or not row.result:
            raise RuntimeError(f"dispatch runbook {row.pk} {row.status}: {row.error}")
        if i >= 3:
            to_process.append((row.result["t0"] - at) * 1000)
            to_claim.append((row.started_at.timestamp() - at) * 1000)
    return to_process, to_claim


def measure_celery(ctx, count: int) -> list[float]:
    import redis

    from bench.tasks import ping

    reply_url = ctx.redis_url + "/3"
    client = redis.Redis.from_url(reply_url)
    key = f"bench:ping:{uuid.uuid4().hex}"
    times = []
    for i in range(count + 3):
        t0 = time.time()
        ping.apply_async((reply_url, key), queue=ctx.queue)
        if client.blpop([key], timeout=30) is None:
            raise RuntimeError("the bare Celery task did not answer within 30 s")
        if i >= 3:
            times.append((time.time() - t0) * 1000)
    return times


def run_dispatch(ctx) -> list[Figure]:
    count = ctx.samples
    to_process, to_claim = measure_dispatch(ctx, count)
    celery = measure_celery(ctx, count)
    ctx.sample_memory("dispatch")
    p50, p99 = percentile(to_process, 50), percentile(to_process, 99)
    c50, c99 = percentile(celery, 50), percentile(celery, 99)
    ctx.log(
        f"  202 → runbook running: p50 {p50:.1f} ms p99 {p99:.1f} ms; 202 → claimed: p50 "
        f"{percentile(to_claim, 50):.1f} ms; bare Celery round trip p50 {c50:.1f} ms p99 {c99:.1f} ms ({count} each)"
    )
    return [
        Figure(
            "dispatch", "202 → runbook running, p50", p50, "ms", c50, "bare Celery task", "< 50 ms", p50 < 50, "times"
        ),
        Figure(
            "dispatch", "202 → runbook running, p99", p99, "ms", c99, "bare Celery task", "< 250 ms", p99 < 250, "times"
        ),
        Figure(
            "dispatch",
            "202 → claimed by worker, p50",
            percentile(to_claim, 50),
            "ms",
            c50,
            "bare Celery task",
            ratio_kind="times",
        ),
    ]


# --- throughput ---------------------------------------------------------------------


def _spawn_loop(argv: list[str], seconds: float, as_user: int | None, contained: bool = False) -> int:
    import subprocess

    from runbooks.runners import namespaces

    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        workdir = tempfile.mkdtemp(prefix="bench-spawn-")
        result = os.path.join(workdir, "result.json")
        script = os.path.join(workdir, "runbook.py")
        with open(script, "w") as f:
            f.write(RUNBOOK_SCRIPT)
        if as_user is not None:
            for path in (workdir, script):
                os.chown(path, as_user, as_user)
        command = [*argv, script]
        if contained:
            box = namespaces.Box(workdir=workdir)
            command = namespaces.argv(box, command, as_user if as_user is not None else os.getuid(), None, None)
        subprocess.run(
            command,
            env={"STEWARD_RESULT": result, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            start_new_session=True,
            user=as_user,
            group=as_user,
            extra_groups=[] if as_user is not None else None,
        )
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
        done += 1
    return done


def bare_spawn_rate(seconds: float, contained: bool = False) -> tuple[float, str]:
    """Runs per second of the runbook's interpreter on the same script, two
    at a time; `contained`: each inside the runbook sandbox's bwrap."""
    from runbooks.runners import python

    as_other_user = os.geteuid() == 0
    argv = [python.interpreter(as_other_user), "-u"]
    # Two UIDs of the runbook pool's range, one per loop, as two runs have.
    uids = [62900, 62901] if as_other_user else [None, None]
    with ProcessPoolExecutor(2) as pool:
        started = time.monotonic()
        counts = list(pool.map(_spawn_loop, [argv] * 2, [seconds] * 2, uids, [contained] * 2))
        elapsed = time.monotonic() - started
    return sum(counts) / elapsed, argv[0]


def run_throughput(ctx) -> list[Figure]:
    count = ctx.throughput_runs
    hook = Hook(ctx.web_url, ctx.source_slug, ctx.token)
    batch = [{"name": "BenchDispatch", "severity": "info", "labels": {"instance": f"t-{i}"}} for i in range(count)]
    at, reply = hook.post(batch)
    rows = _finished(reply["executions"], 600)
    bad = [r for r in rows if r.status != "succeeded"]
    if bad:
        raise RuntimeError(f"{len(bad)} throughput runs did not succeed, e.g. {bad[0].status}: {bad[0].error}")
    first = min(r.started_at for r in rows).timestamp()
    last = max(r.finished_at for r in rows).timestamp()
    rate = count / (last - first)
    ctx.sample_memory("throughput")
    ceiling, interpreter = bare_spawn_rate(min(10.0, max(3.0, ctx.seconds)))
    contained, _ = bare_spawn_rate(min(10.0, max(3.0, ctx.seconds)), contained=True)
    ctx.log(
        f"  {count} runs: {rate:.1f}/s (first start to last finish {last - first:.1f} s, 202 after "
        f"{(at - first) * 1000:+.0f} ms); bare spawn of {interpreter}: {ceiling:.1f}/s, "
        f"inside the sandbox: {contained:.1f}/s"
    )
    return [
        Figure(
            "throughput",
            "trivial runbooks finished, 2 worker processes",
            rate,
            "runs/s",
            ceiling,
            f"bare spawn of {interpreter}",
            ">= 60% of bare",
            rate >= 0.6 * ceiling,
        ),
        Figure(
            "throughput",
            f"spawn of {interpreter} inside the sandbox (bwrap), 2 at a time",
            contained,
            "runs/s",
            ceiling,
            f"bare spawn of {interpreter}",
        ),
    ]
