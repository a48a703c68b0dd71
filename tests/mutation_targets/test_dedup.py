"""Dedup keys and windows, as a binding's author relies on them: the key a
template renders, how long a key is, which stored run covers a repeat, and
what the purge keeps.

Written for the mutants `make mutate` found surviving in events/dedup.py.
"""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from core import batch
from events import dedup
from events.models import Binding, DedupEntry
from runbooks.models import Execution
from tests.factories import make_binding, make_runbook, make_source

DOC = {"name": "DiskFull", "fingerprint": "fp-1", "labels": {"host": "web-01"}}


# Unsaved bindings: keys need no database.
def test_without_a_template_the_key_is_the_fingerprint():
    assert dedup.key_for(Binding(dedup_key=""), DOC) == "fp-1"


def test_a_template_key_is_rendered_from_the_event():
    assert dedup.key_for(Binding(dedup_key="{{ event.labels.host }}/{{ event.name }}"), DOC) == "web-01/DiskFull"


def test_a_rendered_key_is_cut_to_200_characters():
    key = dedup.key_for(Binding(dedup_key="{{ event.name }}" + "x" * 300), DOC)
    assert key == ("DiskFull" + "x" * 300)[:200]
    assert len(key) == 200


def test_an_occurrence_key_is_the_prefix_and_40_hex_of_the_sha256():
    key = dedup.occurrence_key("fp-1|2024-01-01T00:00:00Z|firing")
    digest = hashlib.sha256(b"fp-1|2024-01-01T00:00:00Z|firing").hexdigest()
    assert key == "occurrence:" + digest[:40]


def test_no_window_and_no_occurrence_means_no_keys():
    assert dedup.keys_for(Binding(dedup_window_seconds=0), DOC) == []


def test_a_window_and_an_occurrence_each_give_a_key():
    keys = dedup.keys_for(Binding(dedup_window_seconds=60), DOC, identity="fp-1|t")
    assert keys == [("fp-1", 60), (dedup.occurrence_key("fp-1|t"), dedup.OCCURRENCE_SECONDS)]


@pytest.mark.django_db
class TestWindow:
    @pytest.fixture
    def setup(self):
        runbook = make_runbook()
        binding = make_binding(runbook, make_source("am-dedup")[0], dedup_window_seconds=300)
        other = make_binding(runbook, None, name="other", dedup_window_seconds=300)

        def run():
            return Execution.objects.create(runbook=runbook, version=runbook.current_version, binding=binding)

        return binding, other, run

    def seen(self, now, wanted):
        window = dedup.Window(now)
        window.load(batch.query(window.statements(wanted)))
        return window

    def test_nothing_wanted_reads_nothing(self):
        window = dedup.Window(timezone.now())
        assert window.statements([]) == []
        window.load([])
        assert window.found == {}

    def test_the_newest_stored_run_of_a_key_covers_it(self, setup):
        binding, _, run = setup
        now = timezone.now()
        old, new = run(), run()
        DedupEntry.objects.create(binding=binding, key="k", execution=old, created_at=now - timedelta(seconds=200))
        DedupEntry.objects.create(binding=binding, key="k", execution=new, created_at=now - timedelta(seconds=100))
        assert self.seen(now, [(binding, "k", 300)]).covering(binding, "k") == new.pk

    def test_a_run_at_the_window_edge_covers_one_just_past_it_does_not(self, setup):
        binding, _, run = setup
        now = timezone.now()
        edge, past = run(), run()
        DedupEntry.objects.create(binding=binding, key="edge", execution=edge, created_at=now - timedelta(seconds=300))
        DedupEntry.objects.create(binding=binding, key="past", execution=past, created_at=now - timedelta(seconds=301))
        window = self.seen(now, [(binding, "edge", 300), (binding, "past", 300)])
        assert window.covering(binding, "edge") == edge.pk
        assert window.covering(binding, "past") is None

    def test_a_key_of_one_binding_does_not_cover_another(self, setup):
        binding, other, run = setup
        now = timezone.now()
        DedupEntry.objects.create(binding=binding, key="k", execution=run(), created_at=now)
        window = self.seen(now, [(other, "k", 300), (binding, "j", 300)])
        assert window.covering(other, "k") is None

    def test_a_run_this_request_started_covers_its_key_and_is_stored_with_its_time(self, setup):
        binding, other, run = setup
        now = timezone.now()
        window = self.seen(now, [(binding, "k", 300)])
        started = run()
        window.remember(binding, "k", started)
        assert window.covering(binding, "k") == started.pk
        assert window.covering(other, "k") is None
        DedupEntry.objects.bulk_create(window.entries)
        entry = DedupEntry.objects.get(key="k")
        assert (entry.binding_id, entry.execution_id, entry.created_at) == (binding.pk, started.pk, now)


@pytest.mark.django_db
def test_the_purge_drops_entries_past_the_longest_window_and_keeps_the_rest():
    runbook = make_runbook()
    binding = make_binding(runbook, None)
    execution = Execution.objects.create(runbook=runbook, version=runbook.current_version, binding=binding)
    now = timezone.now()
    longest = timedelta(seconds=DedupEntry.MAX_WINDOW_SECONDS)
    DedupEntry.objects.create(binding=binding, key="old", execution=execution, created_at=now - longest - timedelta(1))
    DedupEntry.objects.create(binding=binding, key="edge", execution=execution, created_at=now - longest)
    assert dedup.purge(now) == 1
    assert set(DedupEntry.objects.values_list("key", flat=True)) == {"edge"}
