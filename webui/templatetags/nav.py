"""The navigation's links: `{% nav_link "execution_list" "Runs" "execution_" %}`
marks itself `aria-current="page"` on every page of its section, so a
person (and a screen reader) knows where they are."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str, *sections: str):
    match = getattr(context.get("request"), "resolver_match", None)
    current = (match.url_name or "") if match else ""
    if current == url_name or any(current.startswith(s) for s in sections):
        return format_html('<a href="{}" aria-current="page">{}</a>', reverse(url_name), label)
    return format_html('<a href="{}">{}</a>', reverse(url_name), label)
