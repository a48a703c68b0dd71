"""A runbook version is immutable and content-addressed: its sha256 is over
the canonical JSON (sorted keys, no spaces) of its content, recomputed here
independently of the model; a saved version refuses to change; each run
names the version it ran."""

import hashlib
import json

import pytest
from rest_framework.test import APIClient

from runbooks.models import ImmutableError, RunbookVersion
from tests.factories import make_runbook, make_user

pytestmark = pytest.mark.django_db


def sha256_of(content: dict) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_the_sha256_is_over_the_canonical_json_of_the_content():
    runbook = make_runbook(
        slug="addr", script="echo ü", kind="shell", parameters={"type": "object"}, timeout_seconds=42, network="none"
    )
    version = runbook.current_version
    content = {
        "kind": "shell",
        "script": "echo ü",
        "parameters": {"type": "object"},
        "timeout_seconds": 42,
        "secrets": [],
        "queue": version.queue,
        "network": "none",
    }
    assert (
        version.sha256
        == hashlib.sha256(
            json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("script", "print(2)"), ("parameters", {"type": "object", "title": "x"}), ("timeout_seconds", 31)],
)
def test_each_content_field_changes_the_sha256(field, value):
    version = make_runbook(slug="f").current_version
    changed = {**version.content(), field: value}
    assert sha256_of(changed) != version.sha256 == sha256_of(version.content())


def test_a_saved_version_cannot_change():
    version = make_runbook(slug="frozen", script="print(1)").current_version
    version.script = "print('changed')"
    with pytest.raises(ImmutableError):
        version.save()
    stored = RunbookVersion.objects.get(pk=version.pk)
    assert stored.script == "print(1)" and stored.sha256 == sha256_of(stored.content())


def test_each_run_names_its_version_by_number_and_sha256():
    make_runbook(slug="named", script="print(1)")
    api = APIClient()
    api.force_authenticate(make_user("admin"))
    first = api.post("/api/v1/runbooks/named/run/", {}, format="json").json()["execution"]
    api.patch("/api/v1/runbooks/named/", {"script": "print(2)"}, format="json")
    second = api.post("/api/v1/runbooks/named/run/", {}, format="json").json()["execution"]
    one, two = (api.get(f"/api/v1/executions/{pk}/").json() for pk in (first, second))
    assert (one["version"], two["version"]) == (1, 2)
    versions = {v["number"]: v["sha256"] for v in api.get("/api/v1/runbooks/named/versions/").json()["results"]}
    assert versions[1] != versions[2]
    assert (one["sha256"], two["sha256"]) == (versions[1], versions[2])
