import json

from django import template
from django.core.serializers.json import DjangoJSONEncoder

from accounts import roles

register = template.Library()


# Deeper levels are shown as a marker: json.dumps with an indent recurses in
# Python, a few frames per level, so a few hundred levels end in a
# RecursionError (a 500) on top of the template's own frames.
MAX_SHOWN_DEPTH = 32


def _bounded(value, depth: int = 0):
    """`value` with what lies deeper than MAX_SHOWN_DEPTH replaced by a note
    (recursion here stops at that depth)."""
    if isinstance(value, dict | list):
        if depth >= MAX_SHOWN_DEPTH:
            return f"… nested deeper than {MAX_SHOWN_DEPTH} levels, not shown"
        if isinstance(value, dict):
            return {key: _bounded(item, depth + 1) for key, item in value.items()}
        return [_bounded(item, depth + 1) for item in value]
    return value


@register.filter
def as_json(value) -> str:
    """Pretty JSON for <pre> blocks; the template still escapes it."""
    return json.dumps(_bounded(value), indent=2, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)


@register.filter
def as_text(value) -> str:
    """A label's or annotation's value: a string as it is, anything else as
    compact JSON, bounded like `as_json`."""
    if isinstance(value, str):
        return value
    return json.dumps(_bounded(value), sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)


@register.filter
def markdown(text: str):
    """A runbook description as sanitized HTML (webui/markdown.py)."""
    from webui.markdown import render

    return render(text)


@register.filter
def may(user, action: str) -> bool:
    """`{% if user|may:"run" %}`: show only what the user's role may use."""
    return roles.may(user, action)
