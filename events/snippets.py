"""Copy-paste configuration for each kind of source, with its real webhook
URL and (right after creation or rotation, the only time it is known) its
token filled in.

Each snippet is complete as shown: pasted into the tool (or, for
Alertmanager, saved as alertmanager.yml) it works without edits. Notes are
plain text: the page shows them as they are, so no Markdown."""

from urllib.parse import urlsplit, urlunsplit

PLACEHOLDER = "<the source token, shown when it was created or rotated>"


def for_source(source, url: str, token: str | None) -> dict:
    """{"title", "language", "text", "note"} for the source's kind."""
    token = token or PLACEHOLDER
    return _KINDS.get(source.kind, _generic)(source, url, token)


def _alertmanager(source, url, token):
    # A whole alertmanager.yml: a route is required (Alertmanager refuses a
    # file without one), and a receiver no route names never gets an alert.
    text = f"""route:
  receiver: steward
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: steward
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""
    return {
        "title": "alertmanager.yml",
        "language": "yaml",
        "text": text,
        "note": "A complete alertmanager.yml that sends every alert to Steward. If you already have one, "
        "add the steward receiver to its receivers and a route to it: under route, add routes: with "
        "- receiver: steward, continue: true and matchers for the alerts that should run runbooks. "
        "Alertmanager re-sends still-firing alerts whenever their group changes: Steward runs a binding "
        "once per firing (fingerprint and startsAt), so a re-notification never runs it again.",
    }


def _grafana(source, url, token):
    text = f"""Alerting → Contact points → Add contact point
  Name:                               Steward
  Integration:                        Webhook
  URL:                                {url}
  HTTP Method:                        POST
  Optional Webhook settings:
    Authorization Header - Scheme:      Bearer
    Authorization Header - Credentials: {token}
"""
    return {
        "title": "Grafana contact point",
        "language": "text",
        "text": text,
        "note": "Then choose the Steward contact point in a notification policy (Alerting → Notification "
        "policies) for the alerts that should run runbooks. Resolved alerts are sent too.",
    }


def _pagerduty(source, url, token):
    text = f"""Integrations → Generic Webhooks (v3) → New Webhook
  Webhook URL:        {url}
  Scope Type:         Service (or Account)
  Event Subscription: incident.triggered, incident.acknowledged, incident.resolved
  Custom Header:      Authorization = Bearer {token}
"""
    return {
        "title": "PagerDuty webhook subscription",
        "language": "text",
        "text": text,
        "note": "PagerDuty shows the subscription's signing secret once: set it on this source with "
        f'PATCH /api/v1/sources/{source.slug}/ {{"signing_secret": "..."}}; unsigned requests are refused.',
    }


def _sns(source, url, token):
    parts = urlsplit(url)
    with_credentials = urlunsplit((parts.scheme, f"steward:{token}@{parts.netloc}", parts.path, "", ""))
    text = f"""aws sns subscribe \\
  --topic-arn arn:aws:sns:<region>:<account>:<topic> \\
  --protocol {parts.scheme} \\
  --notification-endpoint '{with_credentials}'
"""
    return {
        "title": "SNS subscription",
        "language": "shell",
        "text": text,
        "note": "Replace the topic ARN with your topic's. Steward confirms the subscription itself. "
        "Leave raw message delivery off: SNS signs only its full envelope.",
    }


def _generic(source, url, token):
    text = f"""curl -sS -X POST {url} \\
  -H 'Authorization: Bearer {token}' \\
  -H 'Content-Type: application/json' \\
  -d '{{"name": "DiskFull", "severity": "critical", "labels": {{"instance": "web-01"}}}}'
"""
    return {
        "title": "curl",
        "language": "shell",
        "text": text,
        "note": "Any JSON object (or array of objects) works; see the README for field mapping and presets.",
    }


_KINDS = {"alertmanager": _alertmanager, "grafana": _grafana, "pagerduty": _pagerduty, "sns": _sns, "generic": _generic}
