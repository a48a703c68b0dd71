"""The pages' side of core/keyset.py, the one paginator (the API's too):
`?cursor=` and `?page_size=` from the query string, and the next and
previous links, which keep every filter and the sort
(webui/templates/webui/_list_pages.html shows them)."""

from core import keyset


def page_size(params, default: int = keyset.DEFAULT_SIZE) -> int:
    """`?page_size=`, at most 500 as in the API; anything else is the default."""
    try:
        size = int(params.get("page_size", default))
    except (TypeError, ValueError):
        return default
    return min(max(size, 1), keyset.MAX_SIZE)


def page(request, queryset, ordering: str, size: int | None = None) -> tuple[list, dict]:
    """One page of rows, and its `next_url` and `previous_url`. An edited
    cursor starts the list from the top rather than failing: a page is read
    by people who follow links, and a stale link should still show rows."""
    size = size or page_size(request.GET)
    try:
        found = keyset.page(queryset, ordering, request.GET.get("cursor"), size)
    except keyset.InvalidCursor:
        found = keyset.page(queryset, ordering, None, size)
    return found.rows, {"next_url": _link(request, found.next), "previous_url": _link(request, found.previous)}


def _link(request, cursor: str | None) -> str | None:
    """The current URL's query with this cursor instead of any other."""
    if not cursor:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor
    return f"?{query.urlencode()}"
