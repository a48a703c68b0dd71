"""The demo `make run` seeds: one admin, one runbook, one source, one
binding, and the library of example runbooks (runbooks/examples/)."""

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from audit import trail
from events.models import Binding, Source
from events.webhooks import rotate_source_token
from runbooks import manifest, versions
from runbooks.models import Runbook

EXAMPLES = Path(__file__).resolve().parent.parent / "runbooks" / "examples"

DEMO_SCRIPT = """\
import json
import os
import time

params = json.load(open(os.environ["STEWARD_PARAMS"]))
host = params["host"]
print(f"Checking disk usage on {host}")
time.sleep(0.3)
print("Largest directories: /var/log 4.1G, /tmp 1.2G")
print(f"Compressing logs older than 7 days on {host}")
time.sleep(0.3)
print("Freed 3.4 GiB; disk now at 71%")
with open(os.environ["STEWARD_RESULT"], "w") as f:
    json.dump({"host": host, "freed_gib": 3.4, "usage_percent": 71}, f)
"""

DEMO_PARAMETERS = {
    "type": "object",
    "properties": {"host": {"type": "string", "description": "The host whose disk is full"}},
    "required": ["host"],
}


def seed() -> str | None:
    """Create what is missing; return the admin's password when it was created."""
    password = None
    with transaction.atomic():
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@example.invalid", password)
            trail.record(trail.SYSTEM, trail.Change("user.created", "user", "admin", after={"demo": True}))
        runbook = Runbook.objects.filter(slug="disk-cleanup").first()
        if runbook is None:
            runbook = Runbook(slug="disk-cleanup", name="Disk cleanup")
            versions.save_runbook(
                runbook,
                {
                    "description": "Frees space on a host whose disk is filling up (demo).",
                    "kind": "python",
                    "script": DEMO_SCRIPT,
                    "parameters": DEMO_PARAMETERS,
                    "timeout_seconds": 60,
                    "network": "none",  # it works on the worker's own disk: no network
                },
                trail.SYSTEM,
                message="Demo runbook",
            )
        seed_examples()
        source = Source.objects.filter(slug="demo").first()
        if source is None:
            source = Source(slug="demo", name="Demo", kind=Source.Kind.GENERIC)
            source.rotate_token()
            source.save()
            trail.record(trail.SYSTEM, trail.Change("source.created", "source", "demo", after={"kind": "generic"}))
        if not Binding.objects.filter(source=source, runbook=runbook).exists():
            binding = Binding.objects.create(
                name="Disk full → disk cleanup",
                source=source,
                runbook=runbook,
                match=[{"path": "name", "op": "eq", "value": "DiskFull"}],
                parameters={"host": "{{ event.labels.instance }}"},
            )
            trail.record(
                trail.SYSTEM, trail.Change("binding.created", "binding", binding.pk, after={"name": binding.name})
            )
    return password


def seed_examples() -> list[tuple[str, str]]:
    """The example library (runbooks/examples), through the same code as
    `import_runbooks`. Only the missing ones: an example that exists may have
    been edited since, and stays as it is."""
    entries = [e for e in manifest.read(EXAMPLES) if not Runbook.objects.filter(slug=e.slug).exists()]
    return manifest.import_entries(entries, trail.SYSTEM) if entries else []


def rotate_demo_token() -> str:
    return rotate_source_token(Source.objects.get(slug="demo"), trail.SYSTEM)


def demo_curl(base_url: str, token: str) -> str:
    return (
        f"curl -sS -X POST {base_url}/hooks/demo \\\n"
        f"  -H 'Authorization: Bearer {token}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{"name": "DiskFull", "severity": "critical", "labels": {"instance": "web-01"}}\''
    )
