"""Grafana unified alerting's webhook contact point (Grafana 9+): an
Alertmanager-shaped body with Grafana's extras. Every alert becomes one event
named after its `alertname` label; the alert's own extras (`values`,
`valueString`, `dashboardURL`, `panelURL`, `silenceURL`, `imageURL`, ...) stay
in the event's payload as sent, and the notification's (`orgId`, `state`,
`title`, `message`) under payload.group."""

from events.sources.alertmanager import GROUP_FIELDS as ALERTMANAGER_GROUP_FIELDS
from events.sources.alertmanager import occurrence, parse_group
from events.sources.base import Adapter, NormalizedEvent

GROUP_FIELDS = (*ALERTMANAGER_GROUP_FIELDS, "orgId", "state", "title", "message")
# Grafana re-sends a group's alerts as Alertmanager does, with startsAt.
__all__ = ["GROUP_FIELDS", "occurrence", "parse"]

# What a Grafana 10 webhook contact point sends for one firing alert.
SAMPLE = {
    "receiver": "Steward",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "StewardTestAlert", "severity": "info", "instance": "test.example"},
            "annotations": {"summary": "A test alert sent from Steward's source page"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://grafana.example:3000/alerting/grafana/test/view",
            "fingerprint": "5eed0000000test2",
            "silenceURL": "http://grafana.example:3000/alerting/silence/new",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"A": 1},
            "valueString": "[ var='A' labels={} value=1 ]",
        }
    ],
    "groupLabels": {"alertname": "StewardTestAlert"},
    "commonLabels": {"alertname": "StewardTestAlert", "severity": "info", "instance": "test.example"},
    "commonAnnotations": {"summary": "A test alert sent from Steward's source page"},
    "externalURL": "http://grafana.example:3000/",
    "version": "1",
    "groupKey": '{}:{alertname="StewardTestAlert"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] StewardTestAlert",
    "state": "alerting",
    "message": "A test alert sent from Steward's source page",
}


def parse(body, source) -> list[NormalizedEvent]:
    return parse_group(body, GROUP_FIELDS, tool="a Grafana")


class Grafana(Adapter):
    kind = "grafana"
    SAMPLE = SAMPLE
    parse = staticmethod(parse)
    occurrence = staticmethod(occurrence)
