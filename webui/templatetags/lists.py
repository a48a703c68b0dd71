"""Sort links for list headers: `{% sort_link "created_at" "Created" %}`
links to the list sorted by that field (the other way round when it is
already), keeping the filters and starting again from the first page."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_link(context, field: str, label: str):
    orderings = context.get("orderings") or {}
    current = context.get("ordering", "")
    if field not in orderings and f"-{field}" not in orderings:
        return label
    if current == field:
        target, mark = f"-{field}", " ▲"
    elif current == f"-{field}":
        target, mark = field, " ▼"
    else:
        target, mark = (field if field in orderings else f"-{field}"), ""
    if target not in orderings:
        return format_html("{}{}", label, mark)
    query = context["request"].GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    query["ordering"] = target
    return format_html('<a href="?{}" title="Sort by {}">{}{}</a>', query.urlencode(), label.lower(), label, mark)
