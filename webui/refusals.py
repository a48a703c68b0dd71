"""The one place a page turns a domain refusal (core.errors.Refused) into
what the user sees: each problem on its form field, or one line of text.
The status a page answers with comes from the same map as the API's."""

from django import forms
from django.contrib import messages

from core.errors import FORBIDDEN, Refused, status_of
from webui.access import forbidden_page

__all__ = ["add_to_form", "status_of", "summary", "to_page"]


def add_to_form(form: forms.Form, refused: Refused) -> None:
    """Each problem under its field when the form has it, else above the form."""
    for field, message in refused.problems:
        form.add_error(field if field in form.fields else None, message)


def summary(refused: Refused) -> str:
    """One line, "field: message; ...", for pages that show no form fields."""
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in refused.by_field().items())


def to_page(request, refused: Refused, back):
    """A refused button press: the forbidden page when only someone else may
    do it, else the reason as a message on the page `back` redirects to."""
    if refused.kind == FORBIDDEN:
        return forbidden_page(request, str(refused))
    messages.error(request, str(refused))
    return back
