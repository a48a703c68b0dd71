"""Copy-paste configuration for each kind of source, with its real webhook
URL and (right after creation or rotation, the only time it is known) its
token filled in."""

from urllib.parse import urlsplit, urlunsplit

PLACEHOLDER = "<the source token, shown when it was created or rotated>"


def for_source(source, url: str, token: str | None) -> dict:
    """{"title", "language", "text", "note"} for the source's kind."""
    token = token or PLACEHOLDER
    return _KINDS.get(source.kind, _generic)(url, token)


def _alertmanager(url, token):
    text = f"""receivers:
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
        "note": "Route the alerts to run runbooks for to the `steward` receiver. Alertmanager re-sends "
        "still-firing alerts whenever their group changes: Steward runs a binding once per firing "
        "(fingerprint and startsAt), so a re-notification never runs it again.",
    }


def _grafana(url, token):
    text = f"""Alerting → Contact points → New contact point
  Integration:                      Webhook
  URL:                              {url}
  HTTP Method:                      POST
  Authorization Header - Scheme:    Bearer
  Authorization Header - Credentials: {token}
"""
    return {
        "title": "Grafana contact point",
        "language": "text",
        "text": text,
        "note": "Then use the contact point in a notification policy.",
    }


def _pagerduty(url, token):
    text = f"""Integrations → Generic Webhooks (v3) → New Webhook
  Webhook URL:     {url}
  Scope Type:      Service (or Account)
  Event Subscription: incident.triggered, incident.acknowledged, incident.resolved
  Custom Header:   Authorization = Bearer {token}
"""
    return {
        "title": "PagerDuty webhook subscription",
        "language": "text",
        "text": text,
        "note": "PagerDuty shows the subscription's signing secret once: set it on this source "
        '(PATCH /api/v1/sources/<slug>/ {"signing_secret": ...}); unsigned requests are refused.',
    }


def _sns(url, token):
    parts = urlsplit(url)
    with_credentials = urlunsplit((parts.scheme, f"steward:{token}@{parts.netloc}", parts.path, "", ""))
    text = f"""aws sns subscribe \\
  --topic-arn arn:aws:sns:<region>:<account>:<topic> \\
  --protocol https \\
  --notification-endpoint '{with_credentials}'
"""
    return {
        "title": "SNS subscription",
        "language": "shell",
        "text": text,
        "note": "Steward confirms the subscription itself. Leave raw message delivery off.",
    }


def _generic(url, token):
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
