"""A filtered, sorted, keyset-paginated list page: the same FilterSets as
the API, a GET form above the table, cursors that keep the filters, and a
400 page showing the form's errors for bad input (never a 500)."""

from django.shortcuts import render

from webui import pagination


def list_page(request, template: str, filterset_class, queryset, default_ordering: str, context_name: str, **extra):
    """Render `template` with the filter form, one page of rows as
    `context_name`, the next/previous links and the sort in use."""
    filterset = filterset_class(request.GET, queryset=queryset)
    ordering = default_ordering
    if filterset.is_valid():
        ordering = filterset.chosen_ordering(default_ordering)
        rows, links = pagination.page(request, filterset.qs, ordering)
        status = 200
    else:
        rows, links, status = [], {}, 400
    return render(
        request,
        template,
        {
            context_name: rows,
            "filter_form": filterset.form,
            "filtered": any(v for k, v in request.GET.items() if k not in ("cursor", "ordering", "page_size")),
            "ordering": ordering,
            "orderings": filterset_class.ORDERINGS,
            **links,
            **extra,
        },
        status=status,
    )
