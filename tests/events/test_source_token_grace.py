"""Rotating a source's token with a grace period: the old token keeps
working until the grace ends, then only the new one does."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEntry
from events.models import Source
from tests.factories import make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]


def fire(token):
    return Client().post(
        "/hooks/gen",
        data=json.dumps({"name": "x"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def rotate(api, body=None):
    return api.post(
        "/api/v1/sources/gen/rotate-token/",
        data=json.dumps({} if body is None else body),
        content_type="application/json",
    )


def test_the_old_token_works_during_the_grace_period_and_not_after(api):
    _source, old = make_source("gen", "generic")
    response = rotate(api, {"grace_minutes": 10})
    assert response.status_code == 200
    body = response.json()
    new = body["token"]
    assert new != old and body["previous_token_expires_at"]
    assert fire(old).status_code == 202 and fire(new).status_code == 202
    # Ten minutes later (the stored expiry moved into the past): only the new one.
    Source.objects.filter(slug="gen").update(previous_token_expires_at=timezone.now() - timedelta(seconds=1))
    assert fire(old).status_code == 401 and fire(new).status_code == 202
    entry = AuditEntry.objects.get(action="source.token_rotated")
    assert entry.after["token_id"] == new.split("_")[1] and entry.after["previous_token_valid_until"]
    assert old.split("_")[2] not in json.dumps(entry.after) and new.split("_")[2] not in json.dumps(entry.after)


def test_the_default_grace_is_an_hour_and_zero_stops_the_old_token_at_once(api):
    _source, old = make_source("gen", "generic")
    before = timezone.now()
    first = rotate(api).json()
    source = Source.objects.get(slug="gen")
    assert timedelta(minutes=59) < source.previous_token_expires_at - before <= timedelta(minutes=60, seconds=5)
    assert fire(old).status_code == 202
    second = rotate(api, {"grace_minutes": 0}).json()
    assert fire(old).status_code == 401 and fire(first["token"]).status_code == 401
    assert fire(second["token"]).status_code == 202
    assert second["previous_token_expires_at"] is None


def test_a_second_rotation_ends_the_grace_of_the_token_before(api):
    _source, oldest = make_source("gen", "generic")
    middle = rotate(api, {"grace_minutes": 30}).json()["token"]
    newest = rotate(api, {"grace_minutes": 30}).json()["token"]
    assert fire(oldest).status_code == 401
    assert fire(middle).status_code == 202 and fire(newest).status_code == 202


@pytest.mark.parametrize("body", [{"grace_minutes": -1}, {"grace_minutes": 10**9}, {"grace_minutes": "soon"}, []])
def test_a_bad_grace_period_is_a_400_and_rotates_nothing(api, body):
    _source, old = make_source("gen", "generic")
    response = rotate(api, body)
    assert response.status_code == 400 and response.json()["detail"]
    assert fire(old).status_code == 202 and not AuditEntry.objects.filter(action="source.token_rotated").exists()
