"""Each web process keeps sources and bindings in memory (events/hookconfig.py).
A change made anywhere takes effect on the very next webhook, in every
process: two gunicorn servers (two workers each) answer alternately while a
binding is created, changed, disabled, tripped, deleted and its runbook and
source change under it."""

import json
import urllib.error
import urllib.request

import pytest
from django.utils import timezone

from audit import trail
from events.models import Binding, Source
from runbooks import versions
from runbooks.models import Execution
from tests.factories import make_runbook, make_source

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 4  # requests per server and step: both workers of each get some


def fire(base: str, token: str, instance: str, slug: str = "gen") -> tuple[int, dict]:
    body = json.dumps({"name": "DiskFull", "labels": {"instance": instance}}).encode()
    request = urllib.request.Request(
        f"{base}/hooks/{slug}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def runs_started(servers, token: str, step: str) -> list[int]:
    """How many executions each webhook started, alternating the servers."""
    counts = []
    for i in range(ROUNDS):
        for n, base in enumerate(servers):
            status, body = fire(base, token, f"{step}-{i}-{n}")
            assert status == 202, (step, status)
            counts.append(len(body["executions"]))
    return counts


def test_binding_and_source_changes_reach_every_web_process_at_the_next_webhook(web, api):
    runbook = make_runbook(name="Clean disk", kind="shell", script="true", slug="clean")
    _, token = make_source("gen", "generic", rate_limit_per_minute=0)
    servers = [web(), web()]
    every = ROUNDS * len(servers)
    # Warm every process's cache with "no binding".
    assert runs_started(servers, token, "none") == [0] * every

    created = api.post(
        "/api/v1/bindings/",
        data=json.dumps(
            {
                "name": "disk",
                "source": "gen",
                "runbook": "clean",
                "match": [{"path": "name", "op": "eq", "value": "DiskFull"}],
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    binding_url = f"/api/v1/bindings/{created.json()['id']}/"
    assert runs_started(servers, token, "created") == [1] * every

    def patch(**fields):
        response = api.patch(binding_url, data=json.dumps(fields), content_type="application/json")
        assert response.status_code == 200, response.content

    patch(match=[{"path": "name", "op": "eq", "value": "CpuHigh"}])
    assert runs_started(servers, token, "changed") == [0] * every
    patch(match=[])
    assert runs_started(servers, token, "matching-again") == [1] * every
    patch(enabled=False)
    assert runs_started(servers, token, "disabled") == [0] * every
    patch(enabled=True)

    # A new version of the runbook: the next runs use it.
    version = versions.save_runbook(runbook, {"script": "echo v2"}, trail.SYSTEM)
    assert version.number == 2
    assert runs_started(servers, token, "v2") == [1] * every
    assert set(
        Execution.objects.filter(event__labels__instance__startswith="v2-").values_list("version__number", flat=True)
    ) == {2}

    # Tripped by a queryset update (as the breaker does): runs are skipped.
    Binding.objects.filter(name="disk").update(tripped_at=timezone.now(), tripped_reason="too many failures")
    runs_started(servers, token, "tripped")
    skipped = Execution.objects.filter(event__labels__instance__startswith="tripped-")
    assert skipped.count() == every and set(skipped.values_list("status", flat=True)) == {"skipped"}
    Binding.objects.filter(name="disk").update(tripped_at=None, tripped_reason="")

    # Deleted through the API: every process stops running it at once.
    assert api.delete(binding_url).status_code == 204
    assert runs_started(servers, token, "deleted") == [0] * every

    # The source's token rotated without grace: the old one is refused everywhere.
    rotated = api.post(
        "/api/v1/sources/gen/rotate-token/", data=json.dumps({"grace_minutes": 0}), content_type="application/json"
    )
    assert rotated.status_code == 200
    for base in servers * ROUNDS:
        assert fire(base, token, "old-token")[0] == 401
    assert runs_started(servers, rotated.json()["token"], "new-token") == [0] * every

    # A deleted source is unknown at once (one that never stored an event:
    # events keep theirs).
    _, spare = make_source("spare", "generic")
    for base in servers * ROUNDS:
        assert fire(base, "sts_aaaaaaaa_" + "b" * 32, "spare", slug="spare")[0] == 401
    Source.objects.filter(slug="spare").delete()
    for base in servers * ROUNDS:
        assert fire(base, spare, "gone", slug="spare")[0] == 404
