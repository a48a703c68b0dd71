"""Every domain refusal is a core.errors.Refused whose kind decides its
status, in one map for the API and the pages alike."""

import pytest
from rest_framework.test import APIRequestFactory

from accounts.validation import AccountRefused
from core import errors
from core.drf import exception_handler
from events import webhooks
from notifications.channels import ChannelError
from runbooks.approvals import ApprovalRefused
from runbooks.parameters import ParameterError
from runbooks.review import ReviewRefused
from runbooks.runs import RerunRefused
from runbooks.schedules import ScheduleError
from runbooks.secret_store import ScopeRefused, SecretError, SecretScopeError


@pytest.mark.parametrize(
    "refusal,status",
    [
        (AccountRefused("taken", "username"), 400),
        (webhooks.SourceTaken("name", "a source with this name exists"), 409),
        (webhooks.TestAlertRefused("no binding"), 400),
        (ChannelError("url", "a webhook channel needs its URL"), 400),
        (ApprovalRefused("not awaiting approval"), 409),
        (ApprovalRefused("another responder must approve", errors.FORBIDDEN), 403),
        (ParameterError("host is required", [("host", "required")]), 400),
        (ReviewRefused("not waiting for approval"), 409),
        (ReviewRefused("another author must approve it", errors.FORBIDDEN), 403),
        (ScheduleError("cron", "not a cron expression"), 400),
        (ScopeRefused("only an admin sets allowed_runbooks"), 403),
        (SecretError("DB_PASSWORD is missing"), 400),
        (SecretScopeError(["DB_PASSWORD does not allow this runbook"]), 400),
        (RerunRefused("its runbook is gone"), 409),
    ],
)
def test_each_refusal_answers_the_status_of_its_kind(refusal, status):
    assert isinstance(refusal, errors.Refused) and errors.status_of(refusal) == status
    response = exception_handler(refusal, {"request": APIRequestFactory().get("/")})
    assert response.status_code == status
    fields = {field for field, _ in refusal.problems if field}
    if fields:  # a field's problem is named under `errors`, as DRF's own 400s are
        assert set(response.data["errors"]) == fields
    else:  # a state or a permission: `{"detail": ...}` alone, as before the one handler
        assert response.data == {"detail": str(refusal)}


def test_a_rerun_refusal_says_what_was_refused_and_why():
    assert str(RerunRefused("its runbook is gone")) == "This run cannot be run again: its runbook is gone"


def test_secret_scope_problems_are_each_under_secrets():
    refused = SecretScopeError(["A does not allow r", "B does not allow r"])
    assert refused.by_field() == {"secrets": ["A does not allow r", "B does not allow r"]}
    assert refused.messages == ["A does not allow r", "B does not allow r"]
