"""Grafana unified alerting's webhook contact point (Grafana 9+): an
Alertmanager-shaped body with Grafana's extras. Every alert becomes one event
named after its `alertname` label; the alert's own extras (`values`,
`valueString`, `dashboardURL`, `panelURL`, `silenceURL`, `imageURL`, ...) stay
in the event's payload as sent, and the notification's (`orgId`, `state`,
`title`, `message`) under payload.group."""

from events.sources.alertmanager import GROUP_FIELDS as ALERTMANAGER_GROUP_FIELDS
from events.sources.alertmanager import occurrence, parse_group
from events.sources.base import NormalizedEvent

GROUP_FIELDS = (*ALERTMANAGER_GROUP_FIELDS, "orgId", "state", "title", "message")
# Grafana re-sends a group's alerts as Alertmanager does, with startsAt.
__all__ = ["GROUP_FIELDS", "occurrence", "parse"]


def parse(body, source) -> list[NormalizedEvent]:
    return parse_group(body, GROUP_FIELDS, tool="a Grafana")
