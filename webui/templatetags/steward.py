import json

from django import template
from django.core.serializers.json import DjangoJSONEncoder

from accounts import roles

register = template.Library()


@register.filter
def as_json(value) -> str:
    """Pretty JSON for <pre> blocks; the template still escapes it."""
    return json.dumps(value, indent=2, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)


@register.filter
def markdown(text: str):
    """A runbook description as sanitized HTML (webui/markdown.py)."""
    from webui.markdown import render

    return render(text)


@register.filter
def may(user, action: str) -> bool:
    """`{% if user|may:"run" %}`: show only what the user's role may use."""
    return roles.may(user, action)
