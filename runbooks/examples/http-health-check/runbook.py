"""Check that a URL answers with the expected status, with retries."""

# ruff: noqa: T201  (a runbook reports by printing)

import json
import os
import sys
import time
import urllib.error
import urllib.request

with open(os.environ["STEWARD_PARAMS"]) as f:
    params = json.load(f)
url = params["url"]
method = params.get("method", "GET")
expect = params.get("expect_status", 200)
contains = params.get("contains") or ""
attempts = params.get("attempts", 3)
delay = params.get("delay_seconds", 2)
timeout = params.get("request_timeout_seconds", 5)

results, healthy = [], False
for attempt in range(1, attempts + 1):
    started = time.monotonic()
    status, error = None, ""
    try:
        request = urllib.request.Request(url, method=method, headers={"User-Agent": "steward-health-check"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            body = response.read(1024 * 1024).decode("utf-8", "replace") if method == "GET" else ""
    except urllib.error.HTTPError as exc:  # an answer, just not a 2xx
        status, body = exc.code, ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error, body = str(getattr(exc, "reason", exc)), ""
    ms = round((time.monotonic() - started) * 1000)
    ok = status == expect and (not contains or contains in body)
    if status == expect and contains and contains not in body:
        error = f"the body does not contain {contains!r}"
    results.append({"attempt": attempt, "status": status, "ms": ms, "ok": ok, "error": error})
    print(f"attempt {attempt}/{attempts}: {status or 'no answer'} in {ms} ms" + (f" ({error})" if error else ""))
    if ok:
        healthy = True
        break
    if attempt < attempts:
        time.sleep(delay)

print(f"{url} is {'healthy' if healthy else 'NOT healthy'}")
with open(os.environ["STEWARD_RESULT"], "w") as f:
    json.dump({"url": url, "healthy": healthy, "expected_status": expect, "attempts": results}, f)
sys.exit(0 if healthy else 1)
