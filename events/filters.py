"""Filters of the event, binding and source lists (API and pages).

Events: `?source=<slug>&status=firing&severity=critical&fingerprint=...
&created_after=<ISO>&created_before=<ISO>&q=<text>&ordering=received_at`
(the times are the event's `received_at`); `q` looks in the name and the
summary, through trigram indexes on PostgreSQL.
"""

import django_filters

from core.filtering import (
    BY_NAME_OR_AGE,
    ChoicesFilter,
    ListFilterSet,
    by_time,
    ordering_filter,
    time_filter,
    yes_no_filter,
)
from events.models import Binding, Event, Source
from events.sources import ADAPTERS


class EventFilter(ListFilterSet):
    SEARCH_FIELDS = ("name", "summary")
    SEARCH_MIN = 3  # shorter text cannot use a trigram index
    ORDERINGS = by_time("received_at")
    ordering = ordering_filter(ORDERINGS)

    source = django_filters.CharFilter(field_name="source__slug", label="Source (slug)", max_length=64)
    status = ChoicesFilter(choices=Event.Status.choices, label="Status")
    severity = django_filters.CharFilter(label="Severity", max_length=32)
    fingerprint = django_filters.CharFilter(label="Fingerprint", max_length=128)
    created_after = time_filter("received_at", "gte", "Received from")
    created_before = time_filter("received_at", "lt", "Received before")

    class Meta:
        model = Event
        fields = []


class BindingFilter(ListFilterSet):
    SEARCH_FIELDS = ("name",)
    ORDERINGS = BY_NAME_OR_AGE
    ordering = ordering_filter(ORDERINGS)

    source = django_filters.CharFilter(field_name="source__slug", label="Source (slug)", max_length=64)
    runbook = django_filters.CharFilter(field_name="runbook__slug", label="Runbook (slug)", max_length=64)
    enabled = yes_no_filter("Enabled")
    tripped = yes_no_filter("Tripped", field_name="tripped_at", lookup_expr="isnull", exclude=True)
    created_after = time_filter("created_at", "gte", "Created from")
    created_before = time_filter("created_at", "lt", "Created before")

    class Meta:
        model = Binding
        fields = []


class SourceFilter(ListFilterSet):
    SEARCH_FIELDS = ("name", "slug")
    ORDERINGS = BY_NAME_OR_AGE
    ordering = ordering_filter(ORDERINGS)

    kind = ChoicesFilter(choices=[(k, k) for k in sorted(ADAPTERS)], label="Kind")
    created_after = time_filter("created_at", "gte", "Created from")
    created_before = time_filter("created_at", "lt", "Created before")

    class Meta:
        model = Source
        fields = []
