"""Restart a service through an HTTP API, authenticated by a secret token."""

# ruff: noqa: T201  (a runbook reports by printing)

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

with open(os.environ["STEWARD_PARAMS"]) as f:
    params = json.load(f)
base = params["url"].rstrip("/")
service = params["service"]
secret_name = params.get("token_secret", "SERVICE_API_TOKEN")
method = params.get("method", "POST")

token = os.environ.get(secret_name)
if not token:
    print(f"The secret {secret_name} is not available: declare it in this runbook's secrets.", file=sys.stderr)
    sys.exit(2)

url = f"{base}/services/{urllib.parse.quote(service, safe='')}/restart"
if params.get("dry_run"):
    print(f"dry run: would {method} {url} with the token from {secret_name}")
    result = {"service": service, "url": url, "dry_run": True}
else:
    request = urllib.request.Request(
        url,
        method=method,
        data=b"{}",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": "steward-restart-service",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read(64 * 1024).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(64 * 1024).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        print(f"{method} {url} failed: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        sys.exit(1)
    print(f"{method} {url} -> {status}")
    if body:
        print(body[:2000])
    result = {"service": service, "url": url, "status": status, "restarted": 200 <= status < 300}
    if not result["restarted"]:
        with open(os.environ["STEWARD_RESULT"], "w") as f:
            json.dump(result, f)
        sys.exit(1)
with open(os.environ["STEWARD_RESULT"], "w") as f:
    json.dump(result, f)
