"""A filtered, sorted, keyset-paginated list page: the same FilterSets as
the API, a GET form above the table, cursors that keep the filters, and a
400 page showing the form's errors for bad input (never a 500)."""

from django.shortcuts import render

from webui import pagination

PAGING = ("after", "before")


def list_page(request, template: str, filterset_class, queryset, default_ordering: str, context_name: str, **extra):
    """Render `template` with the filter form, one page of rows as
    `context_name`, the next/previous links and the sort in use."""
    filterset = filterset_class(request.GET, queryset=queryset)
    ordering = default_ordering
    if filterset.is_valid():
        ordering = filterset.chosen_ordering(default_ordering)
        page = pagination.keyset(filterset.qs, request.GET, ordering, pagination.page_size(request.GET))
        status = 200
    else:
        page, status = pagination.Page([], None, None), 400
    return render(
        request,
        template,
        {
            context_name: page.rows,
            "filter_form": filterset.form,
            "filtered": any(v for k, v in request.GET.items() if k not in (*PAGING, "ordering", "page_size")),
            "ordering": ordering,
            "orderings": filterset_class.ORDERINGS,
            "next_url": _with(request, "after", page.next_cursor),
            "previous_url": _with(request, "before", page.previous_cursor),
            **extra,
        },
        status=status,
    )


def _with(request, name: str, cursor: str | None) -> str | None:
    """The current URL's query with this cursor instead of any other."""
    if not cursor:
        return None
    query = request.GET.copy()
    for key in PAGING:
        query.pop(key, None)
    query[name] = cursor
    return f"?{query.urlencode()}"
