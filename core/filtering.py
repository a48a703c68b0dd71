"""What every list shares, in the API and on the pages: filters with
django-filter, several values for one choice, ISO 8601 times, free text and
a small set of sort orders that keyset pagination can follow.

Bad filter input is an error, never silently ignored: the API answers 400
`{"detail", "errors"}` (DjangoFilterBackend raises, core.drf formats), a
page shows the form with its errors.
"""

import copy
import datetime

import django_filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

ISO_TIME_HELP = "an ISO 8601 time, e.g. 2026-11-29T03:00:00Z"


def by_time(field: str) -> dict[str, str]:
    """The two orderings every list offers: newest or oldest first."""
    return {f"-{field}": "newest first", field: "oldest first"}


# Named things (runbooks, sources, bindings) also sort by name.
BY_NAME_OR_AGE = {"name": "name A-Z", "-name": "name Z-A", **by_time("created_at")}


class CommaSeparatedCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes on a page; in a URL `?status=failed,timed_out` and
    `?status=failed&status=timed_out` both work."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name) or ""]
        return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


class ChoicesFilter(django_filters.MultipleChoiceFilter):
    """One or several values of a choice field (`IN`); an unknown one is an error."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", CommaSeparatedCheckboxes)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


# Every instant Python (and so Django) can hold, in UTC.
EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.UTC)
LATEST = datetime.datetime.max.replace(tzinfo=datetime.UTC)


def in_utc(value: datetime.datetime) -> datetime.datetime:
    """An aware time moved to UTC, the form every database stores.

    Python parses offsets up to ±24 h, PostgreSQL refuses past ±15:59 (a 500
    it was). A time that leaves years 1..9999 in UTC (0001-01-01T00:00+05:00)
    is a valid RFC 3339 time, so it is answered, not refused: it lies before
    (or after) every time a row can hold, and the earliest (latest) one Python
    has compares the same against every stored row."""
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        return EARLIEST if value.year == 1 else LATEST


# Django's form fields refuse a NUL character (PostgreSQL text cannot hold one).
NO_NUL = "^[^\\x00]*$"


# What the schema says of a filter that a page's form may leave empty:
# "" means "not filtered", anything else must be of the schema's kind.
def or_empty(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


class UtcTimeField(IsoDateTimeField):
    """An ISO 8601 time, given with any offset (or none: the server's zone),
    handed to the query in UTC."""

    def to_python(self, value):
        parsed = super().to_python(value)
        return in_utc(parsed) if parsed is not None else None


@extend_schema_field(or_empty({"type": "string", "format": "date-time"}))
class TimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcTimeField


def time_filter(field_name: str, lookup: str, label: str) -> TimeFilter:
    """`created_after` (inclusive) or `created_before` (exclusive) on a list's time."""
    return TimeFilter(
        field_name=field_name,
        lookup_expr=lookup,
        label=label,
        help_text=ISO_TIME_HELP,
        error_messages={"invalid": ISO_TIME_HELP},
        widget=forms.TextInput(attrs={"placeholder": "2026-11-29T03:00Z"}),
    )


@extend_schema_field({"type": "string", "enum": ["", "true", "false"]})
class YesNoFilter(django_filters.TypedChoiceFilter):
    """`true` or `false` ("" is any); anything else is an error (not silently "any")."""


def yes_no_filter(label: str, **kwargs) -> YesNoFilter:
    return YesNoFilter(
        choices=[("", "any"), ("true", "yes"), ("false", "no")], coerce=lambda v: v == "true", label=label, **kwargs
    )


@extend_schema_field(or_empty({"type": "string", "format": "uuid"}))
class IdFilter(django_filters.UUIDFilter):
    """An object's UUID (`?event=<id>`); "" is any."""


def ordering_filter(orderings: dict[str, str]) -> django_filters.ChoiceFilter:
    """`?ordering=` among a list's sorts; the paginator applies it."""
    return django_filters.ChoiceFilter(
        choices=list(orderings.items()), method="keep", label="Sort", empty_label="default"
    )


class ListFilterSet(django_filters.FilterSet):
    """A list's filters. Subclasses set `SEARCH_FIELDS` (what `q` looks in),
    `SEARCH_MIN` (shorter text cannot use a trigram index, so it is refused
    on big tables) and `ORDERINGS` (the sorts keyset pagination follows:
    each leads with one field, the primary key breaks ties)."""

    SEARCH_FIELDS: tuple[str, ...] = ()
    SEARCH_MIN = 1
    ORDERINGS: dict[str, str] = {}

    q = django_filters.CharFilter(method="search", label="Search", max_length=200)

    @classmethod
    def get_filters(cls):
        """The schema of each filter as the form enforces it: an empty value
        is "not filtered" (a page's form sends every field), a text's
        length, a choice's values; and each list's own `q`, so that its
        schema says the list's SEARCH_MIN."""
        filters = super().get_filters()
        for name, f in filters.items():
            if getattr(f, "_spectacular_annotation", None) or name == "q":
                continue
            if isinstance(f, (django_filters.MultipleChoiceFilter, django_filters.ChoiceFilter)):
                values = [str(value) for value, _ in f.extra["choices"]]
                f = filters[name] = copy.deepcopy(f)
                extend_schema_field({"type": "string", "enum": sorted({"", *values})})(f)
            elif isinstance(f, django_filters.CharFilter) and f.extra.get("max_length"):
                f = filters[name] = copy.deepcopy(f)
                extend_schema_field({"type": "string", "maxLength": f.extra["max_length"], "pattern": NO_NUL})(f)
        q = filters["q"] = copy.deepcopy(filters["q"])
        q.extra["min_length"] = cls.SEARCH_MIN
        q.extra["error_messages"] = {"min_length": f"search for at least {cls.SEARCH_MIN} characters"}
        text = {"type": "string", "minLength": cls.SEARCH_MIN, "maxLength": q.extra["max_length"], "pattern": NO_NUL}
        extend_schema_field(or_empty(text) if cls.SEARCH_MIN > 1 else {**text, "minLength": 0})(q)
        return filters

    def search(self, queryset, name, value):
        if not value:
            return queryset
        condition = Q()
        for field in self.SEARCH_FIELDS:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)

    def keep(self, queryset, name, value: str):
        """Sorting is the paginator's: it needs to know the order to page by it."""
        return queryset

    def chosen_ordering(self, default: str) -> str:
        """The valid `ordering` asked for, else `default` (call after is_valid())."""
        data = getattr(self.form, "cleaned_data", {})
        return data.get("ordering") or default


class FilterBackend(DjangoFilterBackend):
    """django-filter for the API, and the source of the cursor paginator's
    order (DRF's CursorPagination asks the first backend with
    `get_ordering`)."""

    def filter_queryset(self, request, queryset, view):
        # Lists only: a detail, an update or an action ignores list filters.
        if getattr(view, "action", "list") != "list":
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_ordering(self, request, queryset, view):
        """The `?ordering=` asked for on a list, or None: the paginator's own."""
        if getattr(view, "action", "list") != "list":
            return None  # e.g. a version list paginated inside a detail action
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None or not filterset.is_valid():  # an invalid one raised in filter_queryset
            return None
        ordering = filterset.chosen_ordering("")
        return (ordering,) if ordering else None
