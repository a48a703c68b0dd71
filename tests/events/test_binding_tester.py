"""The binding tester (`POST bindings/test/` and its page) says what a real
alert would do: its sample event matches the binding just saved, a match
whose parameters would fail the run says so, and a binding of another
source does not match."""

import json
import time

import pytest

from events.models import Binding
from events.samples import sample_event
from runbooks.models import Execution
from tests.factories import HOST_SCHEMA, api_token, make_binding, make_runbook, make_source, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer():
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(make_user('viewer', username='vic'))}")
    return client


def ask_tester(client, body) -> dict:
    response = client.post("/api/v1/bindings/test/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return {r["name"]: r for r in response.json()["results"]}


def _binding(source=None, **fields) -> Binding:
    return make_binding(
        make_runbook(name=fields.pop("runbook_name", "Drain"), parameters=HOST_SCHEMA),
        source,
        parameters=fields.pop("parameters", {"host": "{{ event.labels.instance }}"}),
        **fields,
    )


@pytest.mark.parametrize(
    "match,on_status",
    [
        ([{"path": "name", "op": "eq", "value": "HighDiskUsage"}], "firing"),
        ([{"path": "name", "op": "in", "value": ["ServiceDown", "HostDown"]}], "any"),
        ([{"path": "status", "op": "eq", "value": "resolved"}], "any"),
        ([{"path": "name", "op": "startswith", "value": "Disk"}], "resolved"),
        ([{"any": [{"path": "name", "op": "glob", "value": "Disk*"}, {"path": "severity", "op": "exists"}]}], "firing"),
    ],
)
def test_the_sample_event_matches_a_binding_with_name_and_status_conditions(viewer, match, on_status):
    binding = _binding(make_source("am", "alertmanager")[0], name="b", match=match, on_status=on_status)
    event = sample_event(binding)
    result = ask_tester(viewer, {"event": event})["b"]
    assert result["matched"], result["reason"]
    assert result["error"] == "" and result["parameters"] == {"host": "example-instance"}


def test_the_sample_event_carries_the_conditions_name_and_status():
    binding = _binding(
        name="b",
        on_status="any",
        match=[
            {"path": "name", "op": "eq", "value": "HighDiskUsage"},
            {"path": "status", "op": "eq", "value": "resolved"},
        ],
    )
    event = sample_event(binding)
    assert (event["name"], event["status"]) == ("HighDiskUsage", "resolved")


def test_a_match_whose_parameters_fail_the_schema_reports_the_problem(viewer):
    _binding(name="typed", parameters={"host": "{{ event.labels.instance }}"})
    _binding(name="no host", parameters={}, runbook_name="Other")
    results = ask_tester(viewer, {"event": {"name": "X", "labels": {"instance": "web-1"}}})
    assert results["typed"]["matched"] and results["typed"]["error"] == ""
    failing = results["no host"]
    assert failing["matched"] is True
    assert failing["error"].startswith("the parameters fail the runbook's schema:") and "host" in failing["error"]
    assert Execution.objects.count() == 0


def test_a_template_that_would_fail_is_reported_as_the_runs_error(viewer):
    _binding(name="divider", parameters={"host": "{{ 1 // 0 }}"})
    result = ask_tester(viewer, {"event": {"name": "X"}})["divider"]
    assert result["matched"] and result["parameters"] is None
    assert "ZeroDivisionError" in result["error"] and "Binding divider" in result["error"]


def test_a_binding_of_another_source_does_not_match(viewer):
    am, _ = make_source("am", "alertmanager")
    make_source("graf", "grafana")
    _binding(am, name="am only")
    _binding(None, name="any source", runbook_name="Other")
    event = {"name": "X", "labels": {"instance": "web-1"}}
    # The event's own source, or the request's: the same answer.
    for body in ({"event": {**event, "source": "graf"}}, {"event": event, "source": "graf"}):
        results = ask_tester(viewer, body)
        assert results["am only"]["matched"] is False
        assert results["am only"]["reason"] == "source is 'graf', but this binding takes only events of 'am'"
        assert results["any source"]["matched"] is True
    assert ask_tester(viewer, {"event": event, "source": "am"})["am only"]["matched"] is True
    # An event that names no source is tested against every binding, as before.
    assert ask_tester(viewer, {"event": event})["am only"]["matched"] is True


def test_an_unknown_source_or_an_unstorable_event_is_400(viewer):
    for body in (
        {"event": {"name": "X"}, "source": "nope"},
        {"event": {"name": "X\u0000"}},
        {"event": {"name": "X", "source": 5}},
    ):
        response = viewer.post("/api/v1/bindings/test/", data=json.dumps(body), content_type="application/json")
        assert response.status_code == 400, (body, response.content)


def test_the_tester_page_shows_a_match_that_would_fail(client):
    client.force_login(make_user("viewer", username="vic"))
    _binding(name="no host", parameters={})
    page = client.post("/bindings/test/", {"event": json.dumps({"name": "X"})}).content.decode()
    assert "would fail" in page and "the parameters fail the runbook" in page


def test_a_catastrophic_regex_binding_and_an_evil_label_answer_at_once(viewer):
    """A viewer could freeze the web tier through the tester with the event
    that froze it through the webhook."""
    _binding(name="evil", match=[{"path": "labels.x", "op": "regex", "value": "^(a+)+$"}])
    started = time.monotonic()
    for _ in range(3):
        result = ask_tester(viewer, {"event": {"name": "X", "labels": {"x": "a" * 29 + "b"}}})["evil"]
        assert result["matched"] is False
    assert time.monotonic() - started < 1.0


DEEP = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(
    "body",
    [
        '{"event": {"name": "X", "payload": ' + DEEP + "}}",
        '{"event": {"name": "X"}, "extra": "\\u0000"}',
        '{"event": {"name": "X", "labels": {"x": "\\ud800"}}}',
    ],
)
def test_a_hostile_tester_request_is_400(viewer, body):
    response = viewer.post("/api/v1/bindings/test/", data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("JSON parse error")


def test_the_tester_page_refuses_deep_json_on_the_field(client):
    client.force_login(make_user("viewer", username="vic"))
    response = client.post("/bindings/test/", {"event": '{"name": "X", "payload": ' + DEEP + "}"})
    assert response.status_code == 200
    assert "nested deeper than 64 levels" in response.content.decode()


# --- saving a binding ----------------------------------------------------------


@pytest.fixture
def author():
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token(make_user('author', username='ana'))}")


@pytest.mark.parametrize(
    "changes,words",
    [
        ({"match": [{"path": "name", "op": "regex", "value": "(a)\\1"}]}, "match: match[0]: invalid regex"),
        ({"match": [{"path": "name", "op": "iregex", "value": "(?<=x)y"}]}, "match: match[0]: invalid regex"),
        ({"match": [{"path": "name", "op": "eq", "value": "a\u0000"}]}, "NUL"),
        ({"parameters": {"host": "a\u0000"}}, "NUL"),
        ({"match": [{"path": "payload.x[" + "9" * 5000 + "]", "op": "exists"}]}, "match: match[0].path"),
    ],
)
def test_a_binding_that_could_hang_or_not_be_stored_is_400_naming_it(author, changes, words):
    make_runbook(slug="rb")
    body = {"name": "b", "runbook": "rb", **changes}
    response = author.post("/api/v1/bindings/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"]
    assert not Binding.objects.exists()


def test_a_binding_nested_too_deep_is_400(author):
    make_runbook(slug="rb")
    body = '{"name": "b", "runbook": "rb", "parameters": {"x": ' + DEEP + "}}"
    response = author.post("/api/v1/bindings/", data=body, content_type="application/json")
    assert response.status_code == 400 and "deeper than 64" in response.json()["detail"]
    assert not Binding.objects.exists()
