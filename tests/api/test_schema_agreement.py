"""The schema and the server agree, both ways: what the schema refuses is a
400 naming the field, what it allows is not refused for a reason it hides.
(tests/api/test_schemathesis.py fuzzes every operation; these pin each rule.)"""

import json
import uuid

import pytest

from events.models import Binding
from gates.models import Check, Gate
from tests.factories import make_runbook, make_source

pytestmark = pytest.mark.django_db


def post(api, url, body):
    return api.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def schema(api):
    return api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.fixture
def runbook(db):
    return make_runbook(slug="restart")


def test_an_unknown_field_is_refused_not_silently_dropped(api, runbook):
    """A typo would save a binding without the approval its author asked for."""
    make_source("am")
    body = {"name": "b", "source": "am", "runbook": "restart", "requires_aproval": True}
    response = post(api, "/api/v1/bindings/", body)
    assert response.status_code == 400
    assert response.json()["errors"] == {"requires_aproval": ["not a field of this object"]}
    assert not Binding.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", 0),  # a number for a string
        ("timeout_seconds", "600"),  # a string for an integer
        ("runbooks", {}),  # an object for a list
        ("runbooks", [0]),  # a number for a slug
    ],
)
def test_a_value_of_another_json_type_than_the_schemas_is_a_400_naming_the_field(api, runbook, field, value):
    body = {"name": "release", "runbooks": ["restart"], field: value}
    response = post(api, "/api/v1/gates/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Gate.objects.exists()


def test_a_name_that_is_taken_is_a_409_conflict(api, runbook):
    assert post(api, "/api/v1/gates/", {"name": "release", "runbooks": ["restart"]}).status_code == 201
    response = post(api, "/api/v1/gates/", {"name": "release", "runbooks": []})
    assert response.status_code == 409
    assert response.json()["errors"] == {"name": ["a gate with this name exists"]}


@pytest.mark.parametrize("wait", ["61", "-1", "abc", "nan", ""])
def test_wait_is_0_to_60_seconds_when_asking_and_when_reading_a_check(api, wait):
    gate = Gate.objects.create(name="release")
    check = Check.objects.create(gate=gate, verdict="pass")
    for response in (
        api.post(f"/api/v1/gates/release/checks/?wait={wait}", "{}", content_type="application/json"),
        api.get(f"/api/v1/gates/release/checks/{check.pk}/?wait={wait}"),
    ):
        assert response.status_code == 400, response.content
        assert response.json()["detail"] == "wait: seconds, from 0 to 60"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"event": {}, "event_id": str(uuid.uuid4())},  # both
        {"event_id": ""},
        {"event_id": f"{{{uuid.uuid4()}}}"},  # braces: not the schema's uuid
        {"event": {}, "extra": 1},
    ],
    ids=["neither", "both", "empty id", "braced id", "unknown field"],
)
def test_a_binding_test_takes_an_event_or_an_event_id(api, body):
    response = post(api, "/api/v1/bindings/test/", body)
    assert response.status_code == 400, response.content


def test_a_delivery_is_found_by_its_id_whatever_the_list_filters_say(api):
    response = api.get(f"/api/v1/deliveries/{uuid.uuid4()}/?execution=not-a-uuid")
    assert response.status_code == 404  # the id decides, not a list's filter (it was a 400)


def test_the_schema_says_what_the_server_enforces(schema):
    paths, components = schema["paths"], schema["components"]["schemas"]
    params = {p["name"]: p["schema"] for p in paths["/api/v1/executions/"]["get"]["parameters"]}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}
    # A page's form sends every field: "" is "not filtered".
    assert {"type": "string", "maxLength": 0} in params["created_after"]["anyOf"]
    assert {"type": "string", "maxLength": 0} in params["event"]["anyOf"]
    assert "" in params["status"]["items"]["enum"] and "" in params["ordering"]["enum"]
    assert {"type": "string", "minLength": 3, "maxLength": 200, "pattern": "^[^\\x00]*$"} in params["q"]["anyOf"]
    bindings = {p["name"]: p["schema"] for p in paths["/api/v1/bindings/"]["get"]["parameters"]}
    assert bindings["enabled"] == {"type": "string", "enum": ["", "false", "true"]}
    # The versions of a runbook take no runbook-list filter.
    versions = {p["name"] for p in paths["/api/v1/runbooks/{slug}/versions/"]["get"]["parameters"]}
    assert versions == {"slug", "cursor", "page_size"}
    # Bodies: JSON objects and lists, no unknown field, the rules across fields.
    assert components["RunbookRequest"]["properties"]["parameters"]["type"] == "object"
    assert components["BindingRequest"]["properties"]["match"]["type"] == "array"
    assert components["BindingRequest"]["additionalProperties"] is False
    assert components["SecretRequest"]["properties"]["name"]["pattern"] == "^[A-Z_][A-Z0-9_]*$"
    assert components["BindingTestRequestRequest"]["oneOf"] == [{"required": ["event"]}, {"required": ["event_id"]}]
    wait = {p["name"]: p["schema"] for p in paths["/api/v1/gates/{name}/checks/"]["post"]["parameters"]}["wait"]
    assert wait == {"type": "number", "minimum": 0, "maximum": 60}
    assert "409" in paths["/api/v1/gates/{name}/"]["put"]["responses"]


def test_a_nul_character_in_a_reference_or_a_json_value_is_a_400_not_a_500(api, runbook):
    """PostgreSQL refuses a NUL in a query and in jsonb: both were 500s there."""
    response = post(api, "/api/v1/subscriptions/", {"channel": "x", "gate": "g\u0000", "events": ["run_failed"]})
    assert response.status_code == 400 and "gate" in response.json()["errors"]
    response = post(api, "/api/v1/runbooks/restart/run/", {"parameters": {"host": "web\u0000"}})
    assert response.status_code == 400 and "parameters" in response.json()["errors"]
