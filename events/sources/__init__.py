"""The one registry of source kinds (see base.py for what an adapter
provides): the API's and the filters' choices, the OpenAPI enum and the
pages read it."""

from events.sources import alertmanager, generic, grafana, pagerduty, sns

ADAPTERS = {
    adapter.kind: adapter()
    for adapter in (alertmanager.Alertmanager, grafana.Grafana, pagerduty.PagerDuty, sns.Sns, generic.Generic)
}
