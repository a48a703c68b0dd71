"""`make bench` (python -m bench): start the production-shaped stack, load
it, print every figure beside its ceiling, stop everything it started.

    python -m bench                              # every step
    python -m bench --only ingest,dispatch       # some of them
    python -m bench --only profile               # cProfile of the webhook
    python -m bench --seconds 5                  # shorter load per figure

Steps: ingest, dispatch, throughput, history, memory (the resident size of
the processes sampled after each load), profile (not in the default set).
See docs/benchmarks.md for the method and the figures.
"""

import argparse
import http.client
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench import app, infra
from bench.procs import PYTHON, ROOT, Process, Stack, term_as_interrupt
from bench.report import Figure, save, table

STEPS = ("ingest", "dispatch", "throughput", "history", "memory", "profile")
DEFAULT_STEPS = ("ingest", "dispatch", "throughput", "history", "memory")
LIVE_STEPS = {"ingest", "dispatch", "throughput", "profile"}
MEMORY_TARGET_MB = 150
PAGE_TARGET_MS = 150


@dataclass
class Context:
    stack: Stack
    artifacts: Path
    seconds: int
    samples: int
    page_samples: int
    throughput_runs: int
    dedup_seconds: int = 300
    redis_url: str = ""
    env: dict = field(default_factory=dict)
    web_url: str = ""
    web: Process | None = None
    live_url: str = ""
    token: str = ""
    source_slug: str = "bench"
    queue: str = app.WORKER_QUEUE
    watched: list[Process] = field(default_factory=list)
    # role -> (largest RSS in bytes, when, command)
    memory: dict[str, tuple[int, str, str]] = field(default_factory=dict)

    def log(self, text: str) -> None:
        print(text, flush=True)

    def sample_memory(self, when: str) -> None:
        for process in self.watched:
            role = "web" if process.name.startswith("web") else "worker"
            for command, rss in app.rss_by_process(process).values():
                if rss > self.memory.get(role, (0, "", ""))[0]:
                    self.memory[role] = (rss, when, command)


def machine() -> dict:
    model = ""
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) // 1024
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_mb": total,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


# --- the live stack: fresh database, web, workers ------------------------------------


def live_fixtures(dedup_seconds: int) -> str:
    """The source, runbooks and bindings, through Steward's services; returns the token."""
    from audit import trail
    from bench.dispatch import RUNBOOK_SCRIPT
    from events import webhooks
    from events.models import Binding
    from runbooks import versions
    from runbooks.models import Runbook

    # rate_limit_per_minute: far above what the bench sends, so the limiter
    # runs (a Redis INCR per request) but never refuses.
    source, token = webhooks.create_source(
        {"name": "Bench", "slug": "bench", "kind": "generic", "rate_limit_per_minute": 100_000_000}, trail.SYSTEM
    )
    schema = {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]}
    for slug, queue, alert, dedup in (
        ("bench-ingest", app.INGEST_QUEUE, "DiskFull", dedup_seconds),
        ("bench-run", "", "BenchDispatch", 0),
    ):
        runbook = Runbook(slug=slug, name=slug.replace("-", " ").title())
        versions.save_runbook(
            runbook,
            {"kind": "python", "script": RUNBOOK_SCRIPT, "parameters": schema, "timeout_seconds": 30, "queue": queue},
            trail.SYSTEM,
        )
        Binding.objects.create(
            name=slug,
            source=source,
            runbook=runbook,
            match=[{"path": "name", "op": "eq", "value": alert}],
            parameters={"host": "{{ event.labels.instance }}"},
            dedup_window_seconds=dedup,
        )
    return token


def start_live(ctx: Context) -> None:
    ctx.log("setting up the live stack")
    ctx.live_url = infra.fresh_live_database(ctx.env)
    for ddl in (
        "CREATE TABLE bench_bare (id bigserial PRIMARY KEY, body jsonb NOT NULL)",
        "CREATE TABLE bench_pgbench (id bigserial PRIMARY KEY, body jsonb NOT NULL)",
    ):
        infra.admin(ddl, infra.LIVE_DB)
    env = {**ctx.env, "DATABASE_URL": ctx.live_url}
    os.environ.update(env)
    import django

    django.setup()
    logging.getLogger().setLevel(logging.WARNING)  # the bench's own Django: its figures, not its INFO lines
    # The bench serves no static files in process (gunicorn's workers do not warn: WhiteNoise finders).
    warnings.filterwarnings("ignore", message="No directory at")
    ctx.token = live_fixtures(ctx.dedup_seconds)
    web, ctx.web_url = app.start_web(ctx.stack, env)
    ctx.web = web
    workers = app.start_workers(ctx.stack, env)
    ctx.watched += [web, workers]
    ctx.log(f"  gunicorn at {ctx.web_url} (pid {web.pid}), workers pid {workers.pid}, logs in {ctx.artifacts}")


def stop_live(ctx: Context) -> None:
    for process in list(ctx.watched):
        ctx.stack.stop(process)
        ctx.watched.remove(process)
    from django.db import connections

    connections.close_all()


# --- history --------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def run_history(ctx: Context) -> list[Figure]:
    history_url = infra.database_url(infra.HISTORY_DB)
    env = {**ctx.env, "DATABASE_URL": history_url}
    infra.migrate(infra.HISTORY_DB, env)
    started = time.monotonic()
    out = subprocess.run(
        [PYTHON, "-m", "bench.history", "prepare", str(ctx.page_samples), str(ctx.artifacts)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    prepared = json.loads(out.strip().splitlines()[-1])
    ctx.log(f"  history ready ({time.monotonic() - started:.0f}s); plans of the slowest queries: history-plans.txt")
    web, base = app.start_web(ctx.stack, env, name="web-history")
    ctx.watched.append(web)
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Cookie": f"sessionid={prepared['session_cookie']}"}

    def get(url: str) -> float:
        t0 = time.perf_counter()
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
        return elapsed

    figures = []
    for name, urls in prepared["urls"].items():
        for _ in range(3):  # warm this page's code path on both gunicorn workers
            get(urls[0])
        timings = [get(urls[i % len(urls)]) for i in range(max(ctx.page_samples, len(urls)))]
        p50, p95 = percentile(timings, 50), percentile(timings, 95)
        queries = prepared["query_counts"][name]
        ctx.log(f"  {name:22} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  {queries} queries  ({len(timings)} requests)")
        figures.append(
            Figure("history", f"{name}, p95 ({queries} queries)", p95, "ms", None, "", "< 150 ms", p95 < PAGE_TARGET_MS)
        )
    conn.close()
    ctx.sample_memory("history pages")
    return figures


def memory_figures(ctx: Context) -> list[Figure]:
    figures = []
    for role, label in (("web", "largest gunicorn process"), ("worker", "largest celery process")):
        if role not in ctx.memory:
            continue
        rss, when, command = ctx.memory[role]
        mb = rss / 1024**2
        ctx.log(f"  {role}: {mb:.0f} MB after {when}: {command}")
        figures.append(Figure("memory", f"{label} RSS", mb, "MB", None, "", "< 150 MB", mb < MEMORY_TARGET_MB))
    return figures


# --- the run ------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(DEFAULT_STEPS), help=f"comma-separated steps of {', '.join(STEPS)}")
    parser.add_argument("--seconds", type=int, default=10, help="load per ingest figure (default 10)")
    parser.add_argument("--samples", type=int, default=100, help="dispatch samples (default 100)")
    parser.add_argument("--page-samples", type=int, default=40, help="requests per page (default 40)")
    parser.add_argument("--throughput-runs", type=int, default=200, help="runbooks in the throughput batch")
    parser.add_argument(
        "--dedup-seconds", type=int, default=300, help="dedup window of the ingest binding (0: no binding lock)"
    )
    args = parser.parse_args(argv)
    args.steps = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    return args


def prerequisites(steps: list[str]) -> None:
    infra.ensure_postgres()
    if "ingest" in steps and not shutil.which("wrk"):
        infra._apt_install("wrk")
    if "ingest" in steps and not shutil.which("pgbench"):
        infra._apt_install("postgresql-client")


def main(argv: list[str]) -> int:
    args = parse(argv)
    term_as_interrupt()
    artifacts = ROOT / "var" / "bench" / time.strftime("%Y%m%d-%H%M%S")
    artifacts.mkdir(parents=True, exist_ok=True)
    stack = Stack(artifacts)
    ctx = Context(stack, artifacts, args.seconds, args.samples, args.page_samples, args.throughput_runs)
    ctx.dedup_seconds = args.dedup_seconds
    figures: list[Figure] = []
    info = {"machine": machine(), "steps": args.steps}
    failed = False
    try:
        prerequisites(args.steps)
        info["postgresql"] = infra.server_settings()
        ctx.redis_url = infra.start_redis(stack)
        ctx.env = app.app_env(infra.generated_keys(), "", ctx.redis_url, artifacts / "var")
        steps = {
            "ingest": "bench.ingest:run",
            "dispatch": "bench.dispatch:run_dispatch",
            "throughput": "bench.dispatch:run_throughput",
            "profile": "bench.profiles:run",
        }
        if LIVE_STEPS & set(args.steps):
            start_live(ctx)
            for step in ("ingest", "dispatch", "throughput", "profile"):
                if step in args.steps:
                    ctx.log(f"{step}")
                    module, function = steps[step].split(":")
                    figures += getattr(__import__(module, fromlist=[function]), function)(ctx)
            stop_live(ctx)
        if "history" in args.steps:
            ctx.log("history")
            figures += run_history(ctx)
        if "memory" in args.steps:
            ctx.log("memory")
            figures += memory_figures(ctx)
    except KeyboardInterrupt:
        ctx.log("interrupted: stopping what the bench started")
        failed = True
    except Exception:
        traceback.print_exc()
        ctx.log(f"the bench failed; logs of its processes are in {artifacts}")
        failed = True
    finally:
        stack.close()
    info["load_average_at_end"] = os.getloadavg()
    if figures:
        print()
        print(table(figures))
        save(figures, artifacts / "figures.json", info)
        missed = [f for f in figures if f.met is False]
        print(f"\n{len(figures)} figures, {len(missed)} target(s) missed; load average {info['load_average_at_end']}")
        print(f"figures, logs, profile and plans: {artifacts}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
