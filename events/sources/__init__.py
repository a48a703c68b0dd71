"""Adapters by source kind (see base.py for what a module provides). The
API offers exactly these kinds."""

from events.sources import alertmanager, generic, grafana, pagerduty, sns

ADAPTERS = {
    "alertmanager": alertmanager,
    "grafana": grafana,
    "pagerduty": pagerduty,
    "sns": sns,
    "generic": generic,
}
