"""A run's page offers only what can happen: Run again where a rerun would
start (the rule the rerun API applies), and words for a run that never
started where its output would be."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import HOST_SCHEMA, api_token, make_runbook
from tests.pages.conftest import run_of

pytestmark = pytest.mark.django_db


def page(client, execution) -> str:
    return client.get(f"/executions/{execution.pk}/").content.decode()


def test_a_run_whose_parameters_fail_its_schema_offers_no_run_again_and_the_api_agrees(logged_in, user):
    runbook = make_runbook(slug="disk", parameters=HOST_SCHEMA)
    bad = run_of(runbook, "failed", parameters={}, finished_at=timezone.now(), error="Invalid parameters: host")
    html = page(logged_in, bad)
    assert ">Run again</button>" not in html
    assert "No Run again: its parameters do not pass the schema of v1" in html
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(user)}")
    response = api.post(f"/api/v1/executions/{bad.pk}/rerun/", content_type="application/json")
    assert response.status_code == 409 and "do not pass the schema of v1" in response.json()["detail"]
    # The page's own form gets the same refusal, not a 500.
    refused = logged_in.post(f"/executions/{bad.pk}/rerun", follow=True).content.decode()
    assert "This run cannot be run again" in refused


def test_a_finished_run_with_good_parameters_offers_run_again_and_it_starts(logged_in, user):
    runbook = make_runbook(slug="disk", parameters=HOST_SCHEMA)
    good = run_of(
        runbook, "succeeded", parameters={"host": "web-01"}, started_at=timezone.now(), finished_at=timezone.now()
    )
    assert ">Run again</button>" in page(logged_in, good)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(user)}")
    response = api.post(f"/api/v1/executions/{good.pk}/rerun/", content_type="application/json")
    assert response.status_code == 202 and json.loads(response.content)["execution"]


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("awaiting_approval", "Not started yet — awaiting approval."),
        ("queued", "Not started yet — queued for a worker."),
        ("rejected", "This run never started: rejected."),
        ("skipped", "This run never started: skipped."),
        ("cancelled", "This run never started: cancelled before it began."),
    ],
)
def test_a_run_that_never_started_says_so_instead_of_no_output_yet(logged_in, status, words):
    execution = run_of(make_runbook(slug="rb"), status)
    html = page(logged_in, execution)
    assert f'id="not-started">{words}</p>' in html
    assert f'data-empty="{words}"' in html and "No output yet." not in html


def test_a_run_that_started_and_printed_nothing_says_no_output_yet(logged_in):
    execution = run_of(make_runbook(slug="rb"), "running", started_at=timezone.now())
    html = page(logged_in, execution)
    assert 'data-empty="No output yet."' in html and 'id="not-started"' not in html
    # The poll's summary update drops the words once a queued run has started.
    update = logged_in.get(f"/executions/{execution.pk}/log?after=0", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="not-started"' not in update
