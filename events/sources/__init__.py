"""Adapters by source kind. A kind without an adapter cannot be created yet."""

from events.sources import alertmanager, generic

ADAPTERS = {"alertmanager": alertmanager, "generic": generic}
