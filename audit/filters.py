"""Filters of the audit trail (API and page): exact `action`, `actor`,
`actor_kind`, `object_type`, `object_id`; a time range (`since`/`until`, or
`created_after`/`created_before` like every list); `q` in the actor and the
object id (trigram indexes on PostgreSQL). The page shows one pair only."""

import django_filters

from audit.models import AuditEntry
from core.filtering import ListFilterSet, by_time, ordering_filter, time_filter


class AuditFilter(ListFilterSet):
    SEARCH_FIELDS = ("actor", "object_id")
    SEARCH_MIN = 3  # shorter text cannot use a trigram index
    ORDERINGS = by_time("seq")
    ordering = ordering_filter(ORDERINGS)

    action = django_filters.CharFilter(label="Action", max_length=64)
    actor = django_filters.CharFilter(label="Actor", max_length=150)
    actor_kind = django_filters.CharFilter(label="Actor kind", max_length=16)  # user, token, source, ...
    object_type = django_filters.CharFilter(label="Object type", max_length=32)
    object_id = django_filters.CharFilter(label="Object id", max_length=64)
    since = time_filter("at", "gte", "Since")
    until = time_filter("at", "lt", "Until")
    created_after = time_filter("at", "gte", "From")
    created_before = time_filter("at", "lt", "Before")

    class Meta:
        model = AuditEntry
        fields = []


class AuditPageFilter(AuditFilter):
    """The page's form: one time range, `since`/`until` (the pair the README
    gives the audit API). A link made with the other pair, which the API
    keeps accepting, fills the same fields."""

    ALIASES = {"created_after": "since", "created_before": "until"}
    created_after = None
    created_before = None

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and any(alias in data for alias in self.ALIASES):
            data = data.copy()
            for alias, name in self.ALIASES.items():
                value = data.pop(alias, None)
                if value and not data.get(name):
                    data.setlist(name, value)
        super().__init__(data, *args, **kwargs)
