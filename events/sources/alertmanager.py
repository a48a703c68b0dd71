"""Prometheus Alertmanager's webhook (version 4): every alert of the group
becomes one event, firing or resolved."""

from events.sources.base import Adapter, NormalizedEvent, PayloadError, check_count, normalize_status, string_map, text

GROUP_FIELDS = (
    "receiver",
    "status",
    "groupKey",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "version",
    "truncatedAlerts",
)

# What Alertmanager 0.25 sends for one firing alert.
SAMPLE = {
    "version": "4",
    "groupKey": '{}:{alertname="StewardTestAlert"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "steward",
    "groupLabels": {"alertname": "StewardTestAlert"},
    "commonLabels": {"alertname": "StewardTestAlert", "severity": "info", "instance": "test.example:9100"},
    "commonAnnotations": {"summary": "A test alert sent from Steward's source page"},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "StewardTestAlert", "severity": "info", "instance": "test.example:9100"},
            "annotations": {"summary": "A test alert sent from Steward's source page"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph",
            "fingerprint": "5eed0000000test1",
        }
    ],
}


def parse(body, source) -> list[NormalizedEvent]:
    return parse_group(body, GROUP_FIELDS, tool="an Alertmanager")


def occurrence(event) -> str:
    """Which firing of an alert an event is: Alertmanager re-sends every
    still-firing alert of a group when the group changes (and each repeat
    interval), with the same fingerprint and `startsAt`; a new firing has a
    new `startsAt`. "" when the alert has no startsAt (dedup by window only)."""
    starts = event.payload.get("startsAt") if isinstance(event.payload, dict) else None
    if not isinstance(starts, str) or not starts or not event.fingerprint:
        return ""
    return f"{event.status}|{event.fingerprint}|{starts}"


def parse_group(body, group_fields: tuple, tool: str) -> list[NormalizedEvent]:
    """One event per alert of an Alertmanager-shaped notification (Grafana's
    is one too); each event's payload is its alert plus the group's
    `group_fields` under "group"."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise PayloadError(f'{tool} webhook is an object with an "alerts" list')
    check_count(len(body["alerts"]))
    group = {key: body[key] for key in group_fields if key in body}
    events = []
    for i, alert in enumerate(body["alerts"]):
        if not isinstance(alert, dict):
            raise PayloadError(f"alerts[{i}] must be an object")
        labels = string_map(alert.get("labels"), f"alerts[{i}].labels")
        annotations = string_map(alert.get("annotations"), f"alerts[{i}].annotations")
        events.append(
            NormalizedEvent(
                name=labels.get("alertname") or "alert",
                status=normalize_status(alert.get("status") or body.get("status")),
                severity=labels.get("severity", ""),
                fingerprint=text(alert.get("fingerprint")),
                summary=annotations.get("summary") or annotations.get("description", ""),
                labels=labels,
                annotations=annotations,
                payload={**alert, "group": group},
            )
        )
    return events


class Alertmanager(Adapter):
    kind = "alertmanager"
    SAMPLE = SAMPLE
    parse = staticmethod(parse)
    occurrence = staticmethod(occurrence)
