"""Secrets on the real worker: a declared secret reaches the runbook as an
environment variable and never reaches the database in clear."""

import json

import pytest

from audit import trail
from audit.models import AuditEntry
from runbooks import secret_store, services
from runbooks.models import LogLine
from tests.factories import make_runbook
from tests.processes import final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TOKEN = "s3cr3t-Pager-T0ken-value"


def with_secrets(runbook, names):
    services.save_runbook(runbook, {"secrets": names}, trail.SYSTEM, message="declare secrets")
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
    done = final(services.request_run(runbook, {}, None, trail.SYSTEM).pk)
    assert done.status == "failed" and done.exit_code == 3
    texts = list(LogLine.objects.filter(execution=done).order_by("n").values_list("text", flat=True))
    assert sorted(texts) == ["Authorization: Bearer ***", "other: None", "token is ***"]  # two pipes: any order
    assert done.result == {"token": "***", "***": ["***", "ok"]}
    # Nowhere in the database: not in a line, the result, the error or the audit trail.
    stored = json.dumps([texts, done.result, done.error, list(AuditEntry.objects.values("before", "after"))])
    assert TOKEN not in stored


def test_a_runbook_naming_a_missing_secret_fails_with_the_reason(worker):
    runbook = with_secrets(make_runbook(slug="needs-secret", script="print('ran')"), ["NO_SUCH_SECRET"])
    done = final(services.request_run(runbook, {}, None, trail.SYSTEM).pk)
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
    done = final(services.request_run(runbook, {}, None, trail.SYSTEM).pk)
    assert done.status == "failed"
    assert "may not use secret(s) PAGER_TOKEN" in done.error and "do not allow this runbook" in done.error
    assert not LogLine.objects.filter(execution=done).exists()  # it never started
