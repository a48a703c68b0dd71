import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from runbooks.models import Execution, LogLine
from tests.factories import make_user


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def as_role(client, db):
    """as_role(role): the test client, logged in as a new user of that role."""

    def log_in(role):
        client.force_login(make_user(role, username=f"{role}-person"))
        return client

    return log_in


def queries(client, path, **headers) -> int:
    """How many queries one GET of `path` makes (and it must answer 200)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **headers)
    assert response.status_code == 200, path
    return len(captured.captured_queries)


def run_of(runbook, status="succeeded", **fields) -> Execution:
    return Execution.objects.create(runbook=runbook, version=runbook.current_version, status=status, **fields)


def add_lines(execution, texts, stream="stdout", first=1) -> None:
    now = timezone.now()
    LogLine.objects.bulk_create(
        LogLine(execution=execution, n=first + i, t=now, stream=stream, text=text) for i, text in enumerate(texts)
    )
    Execution.objects.filter(pk=execution.pk).update(log_count=first + len(texts) - 1)
