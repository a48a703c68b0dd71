"""The REST API as a script or pipeline uses it."""

import json

import pytest

from runbooks.models import Execution, LogLine
from tests.factories import HOST_SCHEMA, make_runbook, make_source

pytestmark = pytest.mark.django_db


def send(client, method, path, body=None):
    return getattr(client, method)(
        path, data=json.dumps(body) if body is not None else None, content_type="application/json"
    )


RUNBOOK = {
    "name": "Restart nginx",
    "kind": "shell",
    "script": "echo restarting $PARAM_HOST",
    "parameters": HOST_SCHEMA,
    "timeout_seconds": 60,
    "tags": ["web"],
}


def test_every_endpoint_needs_authentication(client):
    for path in (
        "/api/v1/runbooks/",
        "/api/v1/sources/",
        "/api/v1/bindings/",
        "/api/v1/executions/",
        "/api/v1/events/",
    ):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["detail"]


def test_a_source_token_is_not_an_api_token(client):
    _, token = make_source()
    assert client.get("/api/v1/runbooks/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_basic_auth_is_not_accepted(client, user):
    response = client.get("/api/v1/runbooks/", HTTP_AUTHORIZATION="Basic b25jYWxsOmNvcnJlY3QtaG9yc2UtYmF0dGVyeQ==")
    assert response.status_code == 401


def test_create_runbook_then_update_makes_versions_only_when_content_changes(api):
    created = send(api, "post", "/api/v1/runbooks/", RUNBOOK)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["slug"] == "restart-nginx" and body["version"] == 1 and len(body["sha256"]) == 64
    same = send(api, "patch", "/api/v1/runbooks/restart-nginx", {"name": "Restart nginx"})
    assert same.json()["version"] == 1
    changed = send(api, "patch", "/api/v1/runbooks/restart-nginx/", {"script": "echo v2", "message": "simpler"})
    assert changed.json()["version"] == 2 and changed.json()["sha256"] != body["sha256"]
    versions = api.get("/api/v1/runbooks/restart-nginx/versions/").json()["results"]
    assert [(v["number"], v["message"]) for v in versions] == [(2, "simpler"), (1, "Created")]
    assert versions[1]["script"] == RUNBOOK["script"]


@pytest.mark.parametrize(
    "change,field",
    [
        ({"kind": "ruby"}, "kind"),
        ({"parameters": {"type": "array"}}, "parameters"),
        ({"parameters": {"type": "object", "properties": {"a-b": {}, "a_b": {}}}}, "parameters"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"secrets": ["lower"]}, "secrets"),
        ({"script": None}, "script"),
    ],
)
def test_invalid_runbooks_are_400_with_the_field(api, change, field):
    response = send(api, "post", "/api/v1/runbooks/", {**RUNBOOK, **change})
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"] and body["detail"].startswith(field)


def test_run_validates_parameters_and_answers_202_with_the_execution(api, user):
    make_runbook(name="Restart", slug="restart", parameters=HOST_SCHEMA)
    bad = send(api, "post", "/api/v1/runbooks/restart/run/", {"parameters": {}})
    assert bad.status_code == 400 and "host" in bad.json()["detail"]
    assert Execution.objects.count() == 0
    good = send(api, "post", "/api/v1/runbooks/restart/run", {"parameters": {"host": "web-01"}})
    assert good.status_code == 202
    execution = Execution.objects.get(pk=good.json()["execution"])
    assert execution.status == "queued" and execution.requested_by == user
    detail = api.get(f"/api/v1/executions/{execution.pk}").json()
    assert detail["runbook"] == "restart" and detail["version"] == 1 and detail["parameters"] == {"host": "web-01"}


def test_source_token_is_shown_once(api):
    created = send(api, "post", "/api/v1/sources/", {"name": "Prod Alertmanager", "kind": "alertmanager"})
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("sts_") and body["webhook_url"].endswith("/hooks/prod-alertmanager")
    again = api.get("/api/v1/sources/prod-alertmanager/").json()
    assert "token" not in again and body["token"] not in json.dumps(again)


def test_unsupported_source_kind_is_400(api):
    response = send(api, "post", "/api/v1/sources/", {"name": "Nagios", "kind": "nagios"})
    assert response.status_code == 400 and "kind" in response.json()["errors"]


def test_bindings_validate_conditions_and_templates(api):
    make_runbook(slug="restart", parameters=HOST_SCHEMA)
    make_source("am")
    good = {
        "name": "disk",
        "source": "am",
        "runbook": "restart",
        "match": [{"path": "labels.severity", "op": "eq", "value": "critical"}],
        "parameters": {"host": "{{ event.labels.instance }}"},
    }
    created = send(api, "post", "/api/v1/bindings/", good)
    assert created.status_code == 201, created.json()
    assert created.json()["on_status"] == "firing"
    for bad in (
        {"match": [{"path": "x", "op": "like", "value": 1}]},
        {"parameters": {"host": "{{ oops"}},
        {"runbook": "missing"},
        {"source": "missing"},
    ):
        assert send(api, "post", "/api/v1/bindings/", {**good, **bad}).status_code == 400


def test_binding_test_shows_matches_and_rendered_parameters_without_running(api):
    make_runbook(slug="restart", parameters=HOST_SCHEMA)
    send(
        api,
        "post",
        "/api/v1/bindings/",
        {
            "name": "disk",
            "runbook": "restart",
            "match": [{"path": "labels.severity", "op": "eq", "value": "critical"}],
            "parameters": {"host": "{{ event.labels.instance }}"},
        },
    )
    response = send(
        api,
        "post",
        "/api/v1/bindings/test/",
        {"event": {"name": "X", "labels": {"severity": "critical", "instance": "web-3"}}},
    )
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["matched"] and result["parameters"] == {"host": "web-3"}
    assert Execution.objects.count() == 0
    assert send(api, "post", "/api/v1/bindings/test/", {"event": "nope"}).status_code == 400


def test_execution_log_pages_by_line_number(api):
    runbook = make_runbook()
    execution = Execution.objects.create(runbook=runbook, version=runbook.current_version, status="succeeded")
    from django.utils import timezone

    LogLine.objects.bulk_create(
        LogLine(execution=execution, n=n, t=timezone.now(), stream="stdout", text=f"l{n}") for n in range(1, 6)
    )
    body = api.get(f"/api/v1/executions/{execution.pk}/log/?after=3").json()
    assert [line["text"] for line in body["lines"]] == ["l4", "l5"] and body["next"] == 5 and body["done"]
    assert api.get(f"/api/v1/executions/{execution.pk}/log/?after=x").status_code == 400


def test_unknown_ids_are_404_json_not_500(api):
    for path in (
        "/api/v1/executions/not-a-uuid/",
        "/api/v1/executions/00000000-0000-0000-0000-000000000000/",
        "/api/v1/runbooks/nope/",
        "/api/v1/nothing/",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["detail"]


def test_execution_filters(api):
    runbook = make_runbook(slug="a")
    other = make_runbook(slug="b", name="B")
    Execution.objects.create(runbook=runbook, version=runbook.current_version, status="failed")
    Execution.objects.create(runbook=other, version=other.current_version, status="succeeded")
    assert [x["runbook"] for x in api.get("/api/v1/executions/?runbook=a").json()["results"]] == ["a"]
    assert [x["status"] for x in api.get("/api/v1/executions/?status=succeeded").json()["results"]] == ["succeeded"]
    assert api.get("/api/v1/executions/?event=zzz").status_code == 400


def test_cancel_a_queued_execution(api):
    make_runbook(slug="restart", parameters=HOST_SCHEMA)
    execution_id = send(api, "post", "/api/v1/runbooks/restart/run/", {"parameters": {"host": "h"}}).json()["execution"]
    response = send(api, "post", f"/api/v1/executions/{execution_id}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert send(api, "post", f"/api/v1/executions/{execution_id}/cancel/").status_code == 409


def test_create_api_token_prints_a_working_token_last(client, user):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_api_token", "oncall", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert token.startswith("stw_")
    assert client.get("/api/v1/runbooks/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_run_policy_is_version_content_set_through_the_api(api):
    send(api, "post", "/api/v1/runbooks/", RUNBOOK)
    response = send(
        api,
        "patch",
        "/api/v1/runbooks/restart-nginx/",
        {
            "max_attempts": 3,
            "retry_backoff_seconds": 10,
            "retry_on": ["lost"],
            "concurrency_limit": 1,
            "concurrency_key": "{{ params.host }}",
            "on_concurrency_limit": "skip",
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == 2  # what runs and how often is reviewed content: a new version
    assert (body["max_attempts"], body["retry_on"], body["concurrency_key"]) == (3, ["lost"], "{{ params.host }}")
    for bad in (
        {"max_attempts": 0},
        {"retry_on": ["succeeded"]},
        {"concurrency_key": "{{ oops"},
        {"on_concurrency_limit": "queue"},
    ):
        assert send(api, "patch", "/api/v1/runbooks/restart-nginx/", bad).status_code == 400, bad
