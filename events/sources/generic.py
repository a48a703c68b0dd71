"""Anything that can POST JSON: an object, or an array of objects (one event
each). Fields are read from the top level, or from the paths in the source's
`mapping` (e.g. {"name": "alert.title", "labels": "tags"})."""

from events import paths
from events.sources.base import NormalizedEvent, PayloadError, normalize_status, string_map, text

DEFAULT_PATHS = {
    "name": ("name", "alertname", "title"),
    "status": ("status",),
    "severity": ("severity",),
    "fingerprint": ("fingerprint",),
    "summary": ("summary",),
    "labels": ("labels",),
    "annotations": ("annotations",),
}
MAX_EVENTS = 1000


def _read(item: dict, field: str, mapping: dict):
    candidates = (mapping[field],) if mapping.get(field) else DEFAULT_PATHS[field]
    for path in candidates:
        value = paths.resolve(item, path)
        if value is not paths.MISSING and value is not None:
            return value
    return None


def parse(body, source) -> list[NormalizedEvent]:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise PayloadError("an empty array carries no event")
    if len(items) > MAX_EVENTS:
        raise PayloadError(f"at most {MAX_EVENTS} events per request")
    mapping = source.mapping or {}
    events = []
    for i, item in enumerate(items):
        where = f"[{i}]" if isinstance(body, list) else "body"
        if not isinstance(item, dict):
            raise PayloadError(f"{where} must be a JSON object")
        name = _read(item, "name", mapping)
        if name is None or text(name).strip() == "":
            raise PayloadError(f"{where}: no event name (send name, alertname or title)")
        events.append(
            NormalizedEvent(
                name=text(name),
                status=normalize_status(_read(item, "status", mapping)),
                severity=text(_read(item, "severity", mapping)),
                fingerprint=text(_read(item, "fingerprint", mapping)),
                summary=text(_read(item, "summary", mapping)),
                labels=string_map(_read(item, "labels", mapping), f"{where}.labels"),
                annotations=string_map(_read(item, "annotations", mapping), f"{where}.annotations"),
                payload=item,
            )
        )
    return events
