"""Secrets on the real worker: a declared secret reaches the runbook as an
environment variable and never reaches the database in clear."""

import json

import pytest

from audit import trail
from audit.models import AuditEntry
from runbooks import runs, secret_store, versions
from runbooks.models import Execution, LogLine
from tests.conftest import wait_for
from tests.factories import make_runbook
from tests.processes import final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TOKEN = "s3cr3t-Pager-T0ken-value"


def with_secrets(runbook, names):
    versions.save_runbook(runbook, {"secrets": names}, trail.SYSTEM, message="declare secrets")
    runbook.refresh_from_db()
    return runbook


def test_a_runbook_printing_a_declared_secret_stores_stars(worker):
    script = (
        "import json, os, sys\n"
        "token = os.environ['PAGER_TOKEN']\n"
        "print('token is', token)\n"
        "print(f'Authorization: Bearer {token}', file=sys.stderr)\n"
        "print('other:', os.environ.get('OTHER_TOKEN'))\n"
        "json.dump({'token': token, token: [token, 'ok']}, open(os.environ['STEWARD_RESULT'], 'w'))\n"
        "sys.exit(3)\n"
    )
    runbook = make_runbook(slug="leaky", script=script)
    secret_store.create("PAGER_TOKEN", TOKEN, "the pager", trail.SYSTEM, allowed_runbooks=[runbook])
    secret_store.create("OTHER_TOKEN", "not-declared-value", "", trail.SYSTEM, allowed_runbooks=[runbook])
    runbook = with_secrets(runbook, ["PAGER_TOKEN"])
    done = final(runs.request_run(runbook, {}, None, trail.SYSTEM).pk)
    assert done.status == "failed" and done.exit_code == 3
    texts = list(LogLine.objects.filter(execution=done).order_by("n").values_list("text", flat=True))
    assert sorted(texts) == ["Authorization: Bearer ***", "other: None", "token is ***"]  # two pipes: any order
    assert done.result == {"token": "***", "***": ["***", "ok"]}
    # Nowhere in the database: not in a line, the result, the error or the audit trail.
    stored = json.dumps([texts, done.result, done.error, list(AuditEntry.objects.values("before", "after"))])
    assert TOKEN not in stored


def test_a_runbook_naming_a_missing_secret_fails_with_the_reason(worker):
    runbook = with_secrets(make_runbook(slug="needs-secret", script="print('ran')"), ["NO_SUCH_SECRET"])
    done = final(runs.request_run(runbook, {}, None, trail.SYSTEM).pk)
    assert done.status == "failed"
    assert "NO_SUCH_SECRET" in done.error and "do not exist" in done.error
    assert not LogLine.objects.filter(execution=done).exists()  # it never started


def test_a_secret_whose_scope_no_longer_allows_the_runbook_is_refused_at_run_time(worker):
    """Saving checked the scope; an admin narrowed it since. The worker hands
    the run nothing: it fails with the reason and never starts."""
    script = "import os\nprint('got', os.environ.get('PAGER_TOKEN'))\n"
    runbook = make_runbook(slug="was-allowed", script=script)
    secret = secret_store.create("PAGER_TOKEN", TOKEN, "", trail.SYSTEM, allowed_runbooks=[runbook])
    runbook = with_secrets(runbook, ["PAGER_TOKEN"])
    secret_store.update(secret, trail.SYSTEM, allowed_runbooks=[])
    done = final(runs.request_run(runbook, {}, None, trail.SYSTEM).pk)
    assert done.status == "failed"
    assert "may not use secret(s) PAGER_TOKEN" in done.error and "do not allow this runbook" in done.error
    assert not LogLine.objects.filter(execution=done).exists()  # it never started


def test_a_run_cannot_read_the_secrets_of_a_run_going_on_beside_it(worker):
    """Scopes mean nothing if a run could read another's environment: the
    snoop reads every /proc/<pid>/environ it can while the holder, which
    holds PAGER_TOKEN, is running."""
    holder = make_runbook(slug="holder", script="import time\nprint('holding', flush=True)\ntime.sleep(60)\n")
    secret_store.create("PAGER_TOKEN", TOKEN, "", trail.SYSTEM, allowed_runbooks=[holder])
    holder = with_secrets(holder, ["PAGER_TOKEN"])
    held = runs.request_run(holder, {}, None, trail.SYSTEM)
    wait_for(lambda: LogLine.objects.filter(execution=held).exists(), timeout=20, what="the holder to start")
    script = (
        "import os\n"
        "readable = 0\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n"
        "        environ = open(f'/proc/{pid}/environ', 'rb').read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    readable += 1\n"
        "    if b'PAGER_TOKEN=' in environ:\n"
        "        print('read the holder:', pid, environ.split(b'PAGER_TOKEN=')[1].split(b'\\0')[0].decode())\n"
        "print('readable environments:', readable)\n"
    )
    snooped = final(runs.request_run(make_runbook(slug="snoop", script=script), {}, None, trail.SYSTEM).pk)
    assert Execution.objects.get(pk=held.pk).status == "running"  # it was there to be read
    texts = list(LogLine.objects.filter(execution=snooped).order_by("n").values_list("text", flat=True))
    assert snooped.status == "succeeded", (snooped.error, texts)
    assert texts[-1].startswith("readable environments:") and int(texts[-1].split(":")[1]) >= 1  # its own, at least
    assert not any("read the holder" in text for text in texts), texts
    runs.cancel(held, trail.SYSTEM)
    assert final(held.pk).status == "cancelled"
