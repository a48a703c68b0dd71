"""Ingest: webhook requests per second and latency through gunicorn, at 1, 8
and 32 concurrent clients (wrk, a C load generator, so the client does not
take the cores from the server), beside two ceilings at the same
concurrency: a bare Django view under the same gunicorn that only inserts
the raw body in one transaction, and pgbench single-row INSERTs.

Distinct alerts: every request a new alert that matches the one binding
(an event, an execution, a dedup entry and audit entries per request). The
storm: one alert repeated; the binding's dedup window suppresses every
repeat (an event and an audit entry per request, no execution).
"""

import json
import os
import re
import subprocess
from pathlib import Path

from bench import app
from bench.report import Figure

LUA = Path(__file__).resolve().parent / "wrk" / "webhook.lua"
LEVELS = (1, 8, 32)
TARGET_CLIENTS = 8
TARGET_SHARE = 0.60
TARGET_P99_MS = 50.0
PGBENCH_BODY = (
    '{"name":"DiskFull","severity":"critical","status":"firing","labels":{"instance":"web-01","job":"node",'
    '"team":"storage"},"annotations":{"summary":"Disk /var on web-01 is 95% full"}}'
)


def wrk(url: str, clients: int, seconds: int, mode: str, token: str = "", prefix: str = "x") -> dict:
    threads = min(clients, 2)  # the machine has two cores; wrk needs few
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_TOKEN": token, "BENCH_PREFIX": prefix}
    done = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(LUA), url],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    out = done.stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{out}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(raw[k] for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts"))
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "errors": errors,
    }


def pgbench(database_url: str, clients: int, seconds: int, script_dir: Path) -> dict:
    script = script_dir / "pgbench-insert.sql"
    script.write_text(f"INSERT INTO bench_pgbench (body) VALUES ('{PGBENCH_BODY}');\n")
    argv = ["pgbench", "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), "-f", str(script)]
    done = subprocess.run([*argv, database_url], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    out = done.stdout
    tps = re.search(r"tps = ([0-9.]+)", out)
    latency = re.search(r"latency average = ([0-9.]+) ms", out)
    if tps is None:
        raise RuntimeError(f"pgbench printed no tps:\n{out}")
    return {"tps": float(tps.group(1)), "latency_ms": float(latency.group(1)) if latency else None}


def run(ctx) -> list[Figure]:
    figures = []
    hook = f"{ctx.web_url}/hooks/{ctx.source_slug}"
    bare = f"{ctx.web_url}/bench/bare"
    # Warm every gunicorn thread's connection and imports before measuring.
    wrk(hook, 16, 2, "distinct", ctx.token, "warm")
    wrk(bare, 16, 2, "bare")
    for clients in LEVELS:
        cpu = app.cpu_seconds(ctx.web)
        ceiling = wrk(bare, clients, ctx.seconds, "bare")
        bare_cpu_ms = (app.cpu_seconds(ctx.web) - cpu) / max(1, ceiling["requests"]) * 1000
        pg = pgbench(ctx.live_url, clients, ctx.seconds, ctx.artifacts)
        label = f"bare view; pgbench {pg['tps']:,.0f} tx/s"
        ctx.log(
            f"  {clients:>2} clients  bare view {ceiling['rps']:7.0f}/s p50 {ceiling['p50_ms']:.1f} ms "
            f"p99 {ceiling['p99_ms']:.1f} ms  (gunicorn CPU {bare_cpu_ms:.1f} ms a request)  "
            f"pgbench {pg['tps']:7.0f} tx/s"
        )
        for mode in ("distinct", "storm"):
            cpu = app.cpu_seconds(ctx.web)
            got = wrk(hook, clients, ctx.seconds, mode, ctx.token, f"{mode}{clients}")
            cpu_ms = (app.cpu_seconds(ctx.web) - cpu) / max(1, got["requests"]) * 1000
            ctx.log(
                f"  {clients:>2} clients  {mode:8} {got['rps']:7.0f}/s p50 {got['p50_ms']:.1f} ms "
                f"p99 {got['p99_ms']:.1f} ms  ({got['requests']} requests, {got['errors']} errors, "
                f"gunicorn CPU {cpu_ms:.1f} ms a request)"
            )
            if got["errors"]:
                ctx.log(f"  !! {got['errors']} failed requests (see {ctx.artifacts}/web.log)")
            at_target = clients == TARGET_CLIENTS
            share_met = got["rps"] >= TARGET_SHARE * ceiling["rps"] and not got["errors"]
            name = f"{mode} alerts, {clients} client{'s' if clients > 1 else ''}"
            figures += [
                Figure(
                    "ingest",
                    f"{name}, rate",
                    got["rps"],
                    "req/s",
                    ceiling["rps"],
                    label,
                    ">= 60% of bare" if at_target else "",
                    share_met if at_target else None,
                ),
                Figure(
                    "ingest", f"{name}, p50", got["p50_ms"], "ms", ceiling["p50_ms"], "bare view", "", None, "times"
                ),
                Figure(
                    "ingest",
                    f"{name}, p99",
                    got["p99_ms"],
                    "ms",
                    ceiling["p99_ms"],
                    "bare view",
                    "< 50 ms" if at_target else "",
                    got["p99_ms"] < TARGET_P99_MS if at_target else None,
                    "times",
                ),
            ]
        ctx.sample_memory(f"ingest, {clients} clients")
    return figures
