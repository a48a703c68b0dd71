"""A JSONField that a too deeply nested document cannot break.

Python's json module recurses once per level: a document nested a thousand
levels deep (written by raw SQL, a restore, or before the webhook refused
such input) raises RecursionError wherever the row is loaded, and every page
and API answer listing it becomes a 500. This field loads such a value as a
small marker object instead; the stored document is left as it is.
"""

from django.db import models

UNREADABLE = "steward_unreadable"


class TolerantJSONField(models.JSONField):
    def from_db_value(self, value, expression, connection):
        try:
            return super().from_db_value(value, expression, connection)
        except RecursionError:
            return {UNREADABLE: f"nested too deeply to read ({len(value)} characters stored)"}

    def deconstruct(self):
        # Behaviour only, nothing in the schema: migrations see a JSONField.
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
