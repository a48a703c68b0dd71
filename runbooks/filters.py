"""Filters of the runbook and execution lists (API and pages).

Executions: `?runbook=<slug>&status=failed,timed_out&event=<uuid>&binding=<uuid>
&source=<slug>&created_after=<ISO>&created_before=<ISO>&q=<text>&ordering=created_at`.
Each filter and sort is served by an index of runbooks_execution (see the
migrations); `q` looks in the runbook's name and slug (a small table, through
a subquery), the parameters and the error, the last two through trigram
indexes on PostgreSQL.
"""

import json

import django_filters
from django.db import connection
from django.db.models import Q

from core.filtering import (
    BY_NAME_OR_AGE,
    ChoicesFilter,
    IdFilter,
    ListFilterSet,
    by_time,
    ordering_filter,
    time_filter,
)
from runbooks.models import Execution, Runbook, RunbookVersion


class ExecutionFilter(ListFilterSet):
    SEARCH_MIN = 3  # shorter text cannot use a trigram index
    ORDERINGS = by_time("created_at")
    ordering = ordering_filter(ORDERINGS)

    runbook = django_filters.CharFilter(field_name="runbook__slug", label="Runbook (slug)", max_length=64)
    status = ChoicesFilter(choices=Execution.Status.choices, label="Status")
    source = django_filters.CharFilter(field_name="source__slug", label="Source (slug)", max_length=64)
    event = IdFilter(field_name="event_id", label="Event (id)")
    binding = IdFilter(field_name="binding_id", label="Binding (id)")
    created_after = time_filter("created_at", "gte", "Created from")
    created_before = time_filter("created_at", "lt", "Created before")

    class Meta:
        model = Execution
        fields = []

    def search(self, queryset, name, value):
        runbooks = Runbook.objects.filter(Q(name__icontains=value) | Q(slug__icontains=value)).values("pk")
        return queryset.filter(Q(runbook__in=runbooks) | Q(parameters__icontains=value) | Q(error__icontains=value))


class RunbookFilter(ListFilterSet):
    SEARCH_FIELDS = ("name", "slug", "description", "team")
    ORDERINGS = BY_NAME_OR_AGE
    ordering = ordering_filter(ORDERINGS)

    tag = django_filters.CharFilter(method="with_tag", label="Tag", max_length=50)
    team = django_filters.CharFilter(field_name="team", label="Team", max_length=100)
    kind = ChoicesFilter(field_name="current_version__kind", choices=RunbookVersion.Kind.choices, label="Kind")
    created_after = time_filter("created_at", "gte", "Created from")
    created_before = time_filter("created_at", "lt", "Created before")

    class Meta:
        model = Runbook
        fields = []

    def with_tag(self, queryset, name, value):
        if not value:
            return queryset
        if connection.features.supports_json_field_contains:  # PostgreSQL
            return queryset.filter(tags__contains=[value])
        # SQLite: its JSON text holds the tag quoted, as json.dumps writes it.
        return queryset.filter(tags__icontains=json.dumps(value))
