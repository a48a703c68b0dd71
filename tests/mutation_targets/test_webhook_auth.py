"""The webhook's door, as a monitoring tool knocks on it: which credentials
open it, what each refusal answers, and the size and type limits.

Written for the mutants `make mutate` found in events/credentials.py and
events/views.py. Through the real endpoint, as the tools call it.
"""

import base64

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings

from events.credentials import presented_token
from events.models import Event
from tests.factories import make_source

pytestmark = pytest.mark.django_db

ALERT = b'{"name": "DiskFull", "fingerprint": "fp-auth"}'


@pytest.fixture(autouse=True)
def empty_cache():
    # rate-limit windows and delivery ids live in the cache, not in a model
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def generic():
    return make_source("gen-auth", "generic")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def hook(client, auth=None, body=ALERT, content_type="application/json", slug="gen-auth", **extra):
    headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    return client.post(f"/hooks/{slug}", data=body, content_type=content_type, **headers, **extra)


@pytest.mark.parametrize(
    "header,token",
    [
        ("Bearer sts_abc_def", "sts_abc_def"),
        ("bearer   sts_abc_def  ", "sts_abc_def"),
        ("BEARER sts_abc_def", "sts_abc_def"),
        (basic("grafana", "sts_abc_def"), "sts_abc_def"),
        ("basic " + base64.b64encode(b"x:pa:ss").decode(), "pa:ss"),
        (basic("", "sts_abc_def"), "sts_abc_def"),
        ("Basic " + base64.b64encode(b"only-user").decode(), ""),
        ("Basic not*base64", ""),
        ("Basic " + base64.b64encode(b"u:\xff\xfe").decode(), ""),
        ("Token sts_abc_def", ""),
        ("sts_abc_def", ""),
        ("", ""),
    ],
)
def test_the_token_is_read_from_bearer_or_basic_and_nothing_else(header, token):
    request = RequestFactory().post("/hooks/x", HTTP_AUTHORIZATION=header)
    assert presented_token(request) == token


def test_no_authorization_header_presents_no_token():
    assert presented_token(RequestFactory().post("/hooks/x")) == ""


def test_a_bearer_token_and_a_basic_password_both_open_the_door(client, generic):
    _, token = generic
    assert hook(client, f"Bearer {token}").status_code == 202
    assert hook(client, basic("tool", token), body=b'{"name": "B", "fingerprint": "2"}').status_code == 202
    assert Event.objects.count() == 2


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Bearer ", basic("tool", "wrong")])
def test_a_missing_or_wrong_token_is_401_with_a_bearer_challenge_and_stores_nothing(client, generic, auth):
    response = hook(client, auth)
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing or invalid source token."}
    assert response["WWW-Authenticate"] == 'Bearer realm="steward"'
    assert not Event.objects.exists()


def test_an_sns_source_challenges_with_basic(client):
    make_source("sns-auth", "sns")
    response = hook(client, None, slug="sns-auth", content_type="text/plain")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="steward"'


def test_an_unknown_source_is_404(client, generic):
    response = hook(client, f"Bearer {generic[1]}", slug="nope")
    assert response.status_code == 404 and response.json() == {"detail": "No such source."}


def test_the_token_is_checked_before_the_body(client, generic):
    # a stranger learns nothing about the limits or the parser
    assert hook(client, "Bearer wrong", content_type="text/plain", body=b"x").status_code == 401


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.tool+json"])
def test_json_and_any_json_suffix_type_are_accepted(client, generic, content_type):
    assert hook(client, f"Bearer {generic[1]}", content_type=content_type).status_code == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonp"])
def test_other_content_types_are_415(client, generic, content_type):
    response = hook(client, f"Bearer {generic[1]}", content_type=content_type)
    assert response.status_code == 415
    assert response.json() == {"detail": "Send Content-Type: application/json."}


@override_settings(STEWARD_WEBHOOK_MAX_BYTES=len(ALERT))
def test_a_body_of_exactly_the_limit_is_taken_one_byte_more_is_413(client, generic):
    token = generic[1]
    assert hook(client, f"Bearer {token}").status_code == 202
    response = hook(client, f"Bearer {token}", body=ALERT + b" ")
    assert response.status_code == 413
    assert response.json() == {"detail": f"The body is over {len(ALERT)} bytes."}


def test_a_nonsense_content_length_is_not_a_500(client, generic):
    response = hook(client, f"Bearer {generic[1]}", CONTENT_LENGTH="lots")
    assert response.status_code in (202, 400, 413)


def test_a_body_that_is_not_json_is_400_and_stores_nothing(client, generic):
    response = hook(client, f"Bearer {generic[1]}", body=b"{not json")
    assert response.status_code == 400 and "detail" in response.json()
    assert not Event.objects.exists()


def test_over_the_rate_limit_is_429_with_retry_after(client):
    _, token = make_source("gen-limited", "generic", rate_limit_per_minute=1)
    assert hook(client, f"Bearer {token}", slug="gen-limited").status_code == 202
    response = hook(client, f"Bearer {token}", slug="gen-limited", body=b'{"name": "again", "fingerprint": "3"}')
    assert response.status_code == 429
    assert response.json() == {"detail": "Over this source's limit of 1 requests a minute."}
    assert int(response["Retry-After"]) >= 1


def test_a_202_lists_what_was_stored(client, generic):
    response = hook(client, f"Bearer {generic[1]}", body=b'[{"name": "A", "fingerprint": "1"}, {"name": "B"}]')
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert sorted(body["events"]) == sorted(str(pk) for pk in Event.objects.values_list("id", flat=True))
    assert body["executions"] == []
