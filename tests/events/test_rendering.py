import pytest

from core import templating

CONTEXT = {"event": {"labels": {"instance": "web-01:9100"}, "name": "DiskFull", "severity": "critical"}}


def test_templates_render_from_the_event_nested_too():
    rendered = templating.render(
        {
            "host": "{{ event.labels.instance.split(':')[0] }}",
            "note": ["{{ event.name }} ({{ event.severity|upper }})", 3],
            "plain": "no template",
        },
        CONTEXT,
    )
    assert rendered == {"host": "web-01", "note": ["DiskFull (CRITICAL)", 3], "plain": "no template"}


def test_a_missing_label_is_an_error_not_an_empty_string():
    with pytest.raises(templating.RenderError, match="hostname"):
        templating.render({"host": "{{ event.labels.hostname }}"}, CONTEXT)


def test_the_sandbox_refuses_python_internals():
    with pytest.raises(templating.RenderError):
        templating.render("{{ event.__class__.__mro__[1].__subclasses__() }}", CONTEXT)


def test_output_is_not_html_escaped():
    assert templating.render("{{ event.name }} <&>", CONTEXT) == "DiskFull <&>"


def test_check_reports_syntax_errors():
    with pytest.raises(templating.RenderError, match="host"):
        templating.check({"host": "{{ event.labels.instance "})
