"""What every list shares, in the API and on the pages: filters with
django-filter, several values for one choice, ISO 8601 times, free text and
a small set of sort orders that keyset pagination can follow.

Bad filter input is an error, never silently ignored: the API answers 400
`{"detail", "errors"}` (DjangoFilterBackend raises, config.api formats), a
page shows the form with its errors.
"""

import datetime

import django_filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend

ISO_TIME_HELP = "an ISO 8601 time, e.g. 2026-11-29T03:00:00Z"
TIME_RANGE_HELP = "a time between 0001-01-01 and 9999-12-31 in UTC"


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


def in_utc(value: datetime.datetime) -> datetime.datetime:
    """An aware time moved to UTC, the form every database stores. Python
    parses offsets up to ±24 h, PostgreSQL refuses past ±15:59 (a 500 it
    was), and a time near year 1 or 9999 may leave Python's range in UTC:
    OverflowError, which the caller turns into a refusal."""
    return value.astimezone(datetime.UTC)


class UtcTimeField(IsoDateTimeField):
    """An ISO 8601 time, given with any offset (or none: the server's zone),
    handed to the query in UTC; one outside the representable range is a
    validation error naming the field, not a server error."""

    default_error_messages = {"range": TIME_RANGE_HELP}

    def to_python(self, value):
        try:
            parsed = super().to_python(value)
            return in_utc(parsed) if parsed is not None else None
        except OverflowError:
            raise forms.ValidationError(self.error_messages["range"], code="range") from None


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


def yes_no_filter(label: str, **kwargs) -> django_filters.TypedChoiceFilter:
    """`true` or `false`; anything else is an error (not silently "any")."""
    return django_filters.TypedChoiceFilter(
        choices=[("", "any"), ("true", "yes"), ("false", "no")], coerce=lambda v: v == "true", label=label, **kwargs
    )


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["q"].extra["min_length"] = self.SEARCH_MIN
        self.filters["q"].extra["error_messages"] = {"min_length": f"search for at least {self.SEARCH_MIN} characters"}

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
