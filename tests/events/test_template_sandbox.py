"""Templates cannot change what they read, and cannot run away: the
immutable sandbox, a copy of the context, a time and an output limit."""

import pytest
from django.test import override_settings

from core import templating


@pytest.mark.parametrize(
    "template",
    [
        "{{ params.update({'host': 'web-01; id'}) }}",
        "{{ event.labels.clear() }}",
        "{{ x.append(1) }}",
        "{{ event.labels.setdefault('owned', 1) }}",
        "{{ event.labels.pop('instance') }}",
    ],
)
def test_a_template_cannot_change_params_the_event_or_anything_it_reads(template):
    params = {"host": "web-01"}
    event = {"labels": {"instance": "web-01"}}
    x = [0]
    with pytest.raises(templating.RenderError):
        templating.render({"p": template}, {"params": params, "event": event, "x": x})
    assert params == {"host": "web-01"} and event == {"labels": {"instance": "web-01"}} and x == [0]


def test_a_loop_bomb_with_an_empty_body_is_stopped_by_the_time_limit():
    bomb = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}done"
    with override_settings(STEWARD_TEMPLATE_TIME_LIMIT_MS=50), pytest.raises(templating.RenderError, match="50 ms"):
        templating.render(bomb, {})


def test_output_past_the_limit_fails_the_template():
    with override_settings(STEWARD_TEMPLATE_MAX_OUTPUT=1000):
        with pytest.raises(templating.RenderError, match="longer than 1000 characters"):
            templating.render("{% for i in range(2000) %}x{% endfor %}", {})
        assert templating.render("{% for i in range(10) %}x{% endfor %}", {}) == "x" * 10


def test_ordinary_templates_still_render_loops_and_filters():
    event = {"labels": {"instance": "web-01:9100", "tags": ["a", "b"]}}
    rendered = templating.render(
        {
            "host": "{{ event.labels.instance.split(':')[0] }}",
            "t": "{% for t in event.labels.tags %}{{ t }}{% endfor %}",
        },
        {"event": event},
    )
    assert rendered == {"host": "web-01", "t": "ab"}
