"""The inventory: bad input answers 400 naming the field, each change is
audited, `import_targets` reads lists and Prometheus file_sd, the `host`
filter strips ports."""

import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from core import templating
from runbooks import secret_store
from runbooks.models import Target
from tests.factories import api_token, make_user
from tests.sshd import new_private_key, public_of

pytestmark = pytest.mark.django_db

HOST_KEY = public_of(new_private_key())


@pytest.fixture
def author_headers():
    secret_store.create("SSH_KEY", new_private_key(), "", secret_store.trail.SYSTEM)
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token(make_user('author', username='inv-author'))}"}


def post(client, body, headers):
    return client.post("/api/v1/targets/", json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"host_key": ""}, "host_key"),
        ({"host_key": "ssh-ed25519 not-a-key"}, "host_key"),
        ({"credential": "NO_SUCH_SECRET"}, "credential"),
        ({"labels": {"bad key!": "x"}}, "labels"),
        ({"name": "../etc"}, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, author_headers, body, field):
    good = {"name": "web-01", "address": "127.0.0.1", "user": "ops", "host_key": HOST_KEY, "credential": "SSH_KEY"}
    response = post(client, {**good, **body}, author_headers)
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json())
    assert not Target.objects.exists()


def test_each_change_is_audited_and_a_new_host_key_is_a_repin(client, author_headers):
    good = {"name": "web-01", "address": "127.0.0.1", "user": "ops", "host_key": HOST_KEY, "credential": "SSH_KEY"}
    assert post(client, good, author_headers).status_code == 201
    other = public_of(new_private_key())
    response = client.patch(
        "/api/v1/targets/web-01/", json.dumps({"host_key": other}), content_type="application/json", **author_headers
    )
    assert response.status_code == 200
    assert client.delete("/api/v1/targets/web-01/", **author_headers).status_code == 204
    actions = list(AuditEntry.objects.filter(object_type="target").order_by("seq").values_list("action", flat=True))
    assert actions == ["target.created", "target.host_key_pinned", "target.deleted"]


def test_a_scan_of_nothing_listening_is_a_400(client, author_headers):
    from tests.conftest import free_port

    response = client.post(
        "/api/v1/targets/scan/",
        {"address": "127.0.0.1", "port": free_port()},
        content_type="application/json",
        **author_headers,
    )
    assert response.status_code == 400 and "Cannot fetch the host key" in response.json()["detail"]


def test_an_ssh_runbook_without_targets_is_refused(client, author_headers):
    body = {"name": "No targets", "kind": "ssh", "script": "uptime"}
    response = client.post("/api/v1/runbooks/", json.dumps(body), content_type="application/json", **author_headers)
    assert response.status_code == 400 and "targets" in json.dumps(response.json())
    body["targets"] = {"selector": "role"}
    response = client.post("/api/v1/runbooks/", json.dumps(body), content_type="application/json", **author_headers)
    assert response.status_code == 400 and "label=value" in json.dumps(response.json())
    body["targets"] = {"selector": "role=web", "max_parallel": 5}
    response = client.post("/api/v1/runbooks/", json.dumps(body), content_type="application/json", **author_headers)
    assert response.status_code == 201, response.content
    assert response.json()["targets"] == body["targets"]


def test_import_targets_reads_a_list_and_a_file_sd_file(tmp_path, author_headers):
    listed = tmp_path / "targets.yaml"
    listed.write_text(
        f"- name: db-01\n  address: 10.1.0.5\n  user: ops\n  labels: {{role: db}}\n"
        f"  host_key: {HOST_KEY}\n  credential: SSH_KEY\n"
    )
    call_command("import_targets", str(listed))
    file_sd = tmp_path / "file_sd.json"
    group = {
        "targets": ["web-01:9100", "web-02:9100"],
        "labels": {"role": "web", "__user__": "ops", "__credential__": "SSH_KEY", "__host_key__": HOST_KEY},
    }
    file_sd.write_text(json.dumps([group]))
    call_command("import_targets", str(file_sd))
    rows = {t.name: (t.address, t.port, t.labels) for t in Target.objects.all()}
    assert rows == {
        "db-01": ("10.1.0.5", 22, {"role": "db"}),
        "web-01": ("web-01", 22, {"role": "web"}),
        "web-02": ("web-02", 22, {"role": "web"}),
    }
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([{"name": "x-01", "address": "h", "user": "u", "credential": "SSH_KEY"}]))
    with pytest.raises(CommandError, match=r"entry 1 .x-01. host_key"):
        call_command("import_targets", str(broken))
    assert not Target.objects.filter(name="x-01").exists()


@pytest.mark.parametrize(
    ("instance", "host"),
    [
        ("web-02:9100", "web-02"),
        ("web-02", "web-02"),
        ("[2001:db8::1]:9100", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_host_filter_strips_the_port(instance, host):
    rendered = templating.render("{{ event.labels.instance | host }}", {"event": {"labels": {"instance": instance}}})
    assert rendered == host


def test_a_selector_picks_exactly_the_targets_with_every_label():
    from runbooks import targets

    for name, labels in [
        ("a", {"role": "web", "dc": "east"}),
        ("b", {"role": "web", "dc": "west"}),
        ("c", {"role": "db"}),
    ]:
        Target.objects.create(name=name, address=name, user="u", labels=labels, host_key=HOST_KEY, credential="K")
    chosen, missing = targets.select({"selector": "role=web,dc=east"}, {})
    assert [t.name for t in chosen] == ["a"] and missing == []
    chosen, missing = targets.select(
        {"selector": "role=web", "from_event": "{{ params.host | host }}"}, {"params": {"host": "c:22"}}
    )
    assert chosen == [] and missing == ["c"]
