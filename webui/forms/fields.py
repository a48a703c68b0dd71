"""Form fields the pages share: JSON in a textarea, comma-separated lists."""

import json

from django import forms

from core import storable


class JSONField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"})

    def blank(self):
        """What an empty box means."""
        return {}

    def to_python(self, value):
        value = super().to_python(value)
        if not value.strip():
            return self.blank()
        try:
            data = json.loads(value)
            # What no database stores (NUL, NaN) or nests beyond reason
            # (which raised RecursionError, a 500) is the field's error.
            storable.check(data, "the JSON")
        except RecursionError:
            raise forms.ValidationError(f"Not valid JSON: nested deeper than {storable.MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        return data

    def prepare_value(self, value):
        if isinstance(value, (dict, list)):
            return json.dumps(value, indent=2)
        return value


class CommaListField(forms.CharField):
    """`a, b, c` ↔ ["a", "b", "c"]."""

    def to_python(self, value):
        value = super().to_python(value) or ""
        return [item.strip() for item in value.split(",") if item.strip()]

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value


class JSONListField(JSONField):
    """A JSON list; empty means no items."""

    def to_python(self, value):
        if not (value or "").strip():
            return []
        return super().to_python(value)
