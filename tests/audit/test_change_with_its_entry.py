"""A change and its audit entry commit in one transaction, in the domain
function: when the entry cannot be written, the change is not there either
(and so nothing happened that the trail does not tell)."""

import pytest

from audit import trail
from audit.models import AuditEntry
from events import bindings, webhooks
from events.models import Binding, Source
from runbooks import versions
from runbooks.models import Runbook
from tests.factories import make_runbook

pytestmark = pytest.mark.django_db


class TrailDown(Exception):
    pass


def refuse(*args, **kwargs):
    raise TrailDown


@pytest.fixture
def trail_down(monkeypatch):
    monkeypatch.setattr(trail, "record_many", refuse)


def test_a_runbook_whose_entry_fails_is_not_saved(trail_down):
    with pytest.raises(TrailDown):
        versions.save_runbook(Runbook(name="Half made", slug="half"), {"kind": "shell", "script": "true"}, trail.SYSTEM)
    assert not Runbook.objects.filter(slug="half").exists()


def test_an_edit_whose_entry_fails_leaves_the_old_version(monkeypatch):
    runbook = make_runbook(slug="kept", script="print('v1')")
    entries = AuditEntry.objects.count()
    monkeypatch.setattr(trail, "record_many", refuse)
    with pytest.raises(TrailDown):
        versions.save_runbook(runbook, {"script": "print('v2')"}, trail.SYSTEM)
    fresh = Runbook.objects.get(slug="kept")
    assert fresh.current_version.number == 1 and fresh.current_version.script == "print('v1')"
    assert fresh.versions.count() == 1 and AuditEntry.objects.count() == entries


def test_a_source_and_a_binding_whose_entries_fail_are_not_saved(trail_down):
    with pytest.raises(TrailDown):
        webhooks.create_source({"name": "Graf", "kind": "grafana"}, trail.SYSTEM)
    assert not Source.objects.exists()
    runbook = Runbook.objects.create(name="bare", slug="bare")
    with pytest.raises(TrailDown):
        bindings.save_binding(None, {"name": "b", "runbook": runbook, "match": []}, trail.SYSTEM)
    assert not Binding.objects.exists()
