import pytest

from events.models import Source
from events.sources import alertmanager, generic
from events.sources.base import PayloadError
from tests.conftest import load_fixture


def test_alertmanager_every_alert_of_a_group_is_an_event():
    events = alertmanager.parse(load_fixture("alertmanager/firing-two-alerts.json"), None)
    assert [e.labels["instance"] for e in events] == ["web-01:9100", "web-02:9100"]
    first = events[0]
    assert first.name == "HighDiskUsage" and first.status == "firing" and first.severity == "critical"
    assert first.fingerprint == "4ebe8b8d49e8e0dd"
    assert first.summary == "Disk 95% full on web-01"
    assert first.payload["group"]["receiver"] == "steward"


def test_alertmanager_resolved():
    events = alertmanager.parse(load_fixture("alertmanager/resolved-one-alert.json"), None)
    assert [e.status for e in events] == ["resolved"]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"alerts": "x"},
        {"alerts": [1]},
        {"alerts": [{"labels": []}]},
        {"alerts": [{"status": "weird", "labels": {}}]},
    ],
)
def test_alertmanager_refuses_other_shapes(body):
    with pytest.raises(PayloadError):
        alertmanager.parse(body, None)


def test_generic_defaults_and_fingerprint_stable_across_label_order():
    source = Source(kind="generic", mapping={})
    a = generic.parse({"title": "Backup failed", "labels": {"b": "2", "a": "1"}}, source)[0]
    b = generic.parse({"title": "Backup failed", "labels": {"a": "1", "b": "2"}}, source)[0]
    assert a.name == "Backup failed" and a.status == "firing"
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 32


def test_generic_array_and_mapping():
    source = Source(kind="generic", mapping={"name": "alert.title", "severity": "alert.priority", "labels": "tags"})
    events = generic.parse(
        [
            {"alert": {"title": "CPU", "priority": "P1"}, "tags": {"host": "h1"}},
            {"alert": {"title": "RAM", "priority": 2}, "tags": {"host": "h2"}},
        ],
        source,
    )
    assert [(e.name, e.severity, e.labels) for e in events] == [
        ("CPU", "P1", {"host": "h1"}),
        ("RAM", "2", {"host": "h2"}),
    ]


@pytest.mark.parametrize("body", [{}, [], ["x"], {"name": "x", "labels": "a"}, {"name": "x", "status": "up"}])
def test_generic_refuses_what_it_cannot_read(body):
    with pytest.raises(PayloadError):
        generic.parse(body, Source(kind="generic", mapping={}))


def test_the_source_form_offers_every_kind_and_preset_of_the_registry():
    """The page's choices are the registry's: a new adapter or preset shows
    up on the new-source form without touching the form."""
    from events.sources import ADAPTERS
    from webui.forms.events import SourceForm

    form = SourceForm()
    assert [value for value, _ in form.fields["kind"].choices] == list(ADAPTERS)
    assert [value for value, _ in form.fields["preset"].choices] == ["", *generic.PRESETS]
    assert generic.PRESET_TITLES.keys() == generic.PRESETS.keys()
