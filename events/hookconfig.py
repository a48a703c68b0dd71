"""What a webhook needs to know before it stores anything: the source of a
slug and the enabled bindings that may match its events (with their runbooks
and current versions). Read at every webhook, changed rarely, so each process
keeps them in memory.

Invalidation: every change to a source, binding, runbook or runbook version
(save, delete, and the queryset's bulk writes, which
`core.generations.AnnouncingQuerySet` announces as `rows_changed`) bumps a generation. The process that makes the
change bumps its own generation at once, and a shared one in Django's cache
once the change is committed (before the commit, another process could only
reload the old rows). Each webhook reads the shared generation (one cache
GET) and reloads from the database when it moved, so a binding saved a
moment ago matches the very next webhook in every process. A lost or culled
shared key reads as a new generation, never as an old one; entries older
than MAX_AGE are reloaded anyway, in case a bump could not reach the cache.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from core.generations import SharedGeneration, rows_changed
from events.models import Binding, Source
from runbooks.models import Runbook, RunbookVersion

log = logging.getLogger(__name__)

GENERATION = SharedGeneration("steward:hookconfig:generation", "webhook configuration")
MAX_AGE = 60.0  # seconds: a backstop, not the invalidation

_local = 0  # this process's generation: bumped at once by its own changes
_lock = threading.Lock()
# (the generations it was read under, {slug: Entry}): replaced whole, never
# emptied in place, so a thread still reading an older generation fills a
# dict nobody looks at any more.
_state: tuple = (None, {})


@dataclass(frozen=True)
class Entry:
    """Shared by the request threads of a process: never mutate these objects."""

    source: object
    bindings: tuple
    loaded_at: float


def bump() -> None:
    """A source, binding or runbook changed: every process reloads."""
    _bump_local()
    transaction.on_commit(_bump_everywhere, robust=True)


def _bump_local() -> None:
    global _local
    with _lock:
        _local += 1


def _bump_everywhere() -> None:
    _bump_local()
    GENERATION.renew()


def lookup(slug: str) -> Entry | None:
    """The source of `slug` and its candidate bindings, or None when there is
    no such source (unknown slugs are not remembered: they must not fill memory)."""
    global _state
    shared = GENERATION.current()
    if shared is None:
        return _load(slug)
    # Read the generations before the rows: a change committed meanwhile
    # bumps them again, and the next request reloads.
    generation = (shared, _local)
    state = _state
    if state[0] != generation:
        state = _state = (generation, {})
    entry = state[1].get(slug)
    if entry is None or time.monotonic() - entry.loaded_at >= MAX_AGE:
        entry = _load(slug)
        if entry is not None:
            state[1][slug] = entry
    return entry


def _load(slug: str) -> Entry | None:
    source = Source.objects.filter(slug=slug).first()
    if source is None:
        return None
    return Entry(source, tuple(load_bindings(source)), time.monotonic())


def load_bindings(source) -> list:
    """The enabled bindings of `source` (and of any source), from the database."""
    bindings = Binding.objects.filter(enabled=True).select_related("runbook__current_version", "source")
    if source is not None:
        bindings = bindings.filter(Q(source=source) | Q(source__isnull=True))
    return list(bindings.order_by("name", "id"))


def clear() -> None:
    """Forget everything read (tests: a rolled-back test leaves no trace)."""
    global _state
    _state = (None, {})


def signals() -> None:
    """Connected once, from EventsConfig.ready()."""

    def changed(sender, **kwargs):
        bump()

    for model in (Source, Binding, Runbook, RunbookVersion):
        post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"hookconfig-{model.__name__}-save")
        post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"hookconfig-{model.__name__}-delete")
        rows_changed.connect(changed, sender=model, weak=False, dispatch_uid=f"hookconfig-{model.__name__}-rows")
