"""What a binding's templates do to a webhook: a template that fails is one
failed run of that binding, never the request's 500; templates that render
booleans, numbers, lists and objects give the types the runbook asks for."""

import time

import pytest

from audit import trail
from audit.models import AuditEntry
from core import templating
from runbooks.models import Execution
from tests.events.helpers import load, post
from tests.factories import HOST_SCHEMA, make_binding, make_runbook, make_source

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]


@pytest.fixture
def source():
    return make_source("am", "alertmanager")


def _runs(response) -> dict[str, Execution]:
    """The request's executions by binding name."""
    assert response.status_code == 202, response.content
    executions = Execution.objects.filter(pk__in=response.json()["executions"]).select_related("binding")
    return {x.binding.name: x for x in executions}


def _good_binding(source):
    return make_binding(
        make_runbook(name="Clean disk", parameters=HOST_SCHEMA),
        source,
        name="clean",
        parameters={"host": "{{ event.labels.instance }}"},
    )


@pytest.mark.parametrize(
    "template,error",
    [
        ("{{ (event.labels.instance|length) // 0 }}", "ZeroDivisionError"),
        ("{{ range(10 ** 9)|list }}", "OverflowError"),
        ("{{ event.labels.nope }}", "'dict object' has no attribute 'nope'"),
        ('{{ "%c"|format(0) }}', "NUL character"),
    ],
)
def test_a_failing_parameter_template_fails_that_binding_only(client, source, template, error):
    _good_binding(source[0])
    make_binding(make_runbook(name="Divide"), source[0], name="divider", parameters={"n": template})
    runs = _runs(post(client, "am", load("alertmanager/firing-one-alert.json"), source[1]))
    assert runs["clean"].status == "queued" and runs["clean"].parameters == {"host": "api-03:8080"}
    failed = runs["divider"]
    assert failed.status == "failed"
    assert failed.error.startswith("Binding divider: its parameters could not be rendered:")
    assert error in failed.error
    # Audited like every run the webhook records.
    entry = AuditEntry.objects.get(action="execution.created", object_id=str(failed.pk))
    assert entry.after["status"] == "failed"
    assert trail.verify().ok


def test_a_failing_dedup_key_template_fails_that_binding_only(client, source):
    _good_binding(source[0])
    make_binding(
        make_runbook(name="Page"),
        source[0],
        name="pager",
        dedup_window_seconds=60,
        dedup_key="{{ 1 // 0 }}",
    )
    runs = _runs(post(client, "am", load("alertmanager/firing-one-alert.json"), source[1]))
    assert runs["clean"].status == "queued"
    assert runs["pager"].status == "failed"
    assert runs["pager"].error.startswith("Binding pager: its dedup key could not be rendered:")
    assert "ZeroDivisionError" in runs["pager"].error


def test_a_failing_concurrency_key_template_fails_that_binding_only(client, source):
    _good_binding(source[0])
    limited = make_runbook(
        name="Limited", parameters=HOST_SCHEMA, concurrency_limit=1, concurrency_key="{{ params.host // 0 }}"
    )
    make_binding(limited, source[0], name="limited", parameters={"host": "{{ event.labels.instance }}"})
    runs = _runs(post(client, "am", load("alertmanager/firing-one-alert.json"), source[1]))
    assert runs["clean"].status == "queued"
    assert runs["limited"].status == "failed"
    assert runs["limited"].error.startswith("Binding limited: The concurrency key could not be rendered:")
    assert "TypeError" in runs["limited"].error


def test_any_exception_in_a_template_is_a_render_error_naming_it():
    with pytest.raises(templating.RenderError, match="ZeroDivisionError"):
        templating.render({"n": "{{ 1 // 0 }}"}, {"event": {}})


TYPED_SCHEMA = {
    "type": "object",
    "properties": {
        "critical": {"type": "boolean"},
        "resolved": {"type": "boolean"},
        "port": {"type": "integer"},
        "load": {"type": "number"},
        "hosts": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "object"},
        "instance": {"type": "string"},
        "count": {"type": "string"},
    },
    "required": ["critical", "resolved", "port", "load", "hosts", "labels", "instance", "count"],
}
TYPED_TEMPLATES = {
    "critical": '{{ event.labels.severity == "critical" }}',
    "resolved": "{{ event.status == 'resolved' }}",
    "port": "{{ event.labels.instance.split(':')[1] }}",
    "load": "{{ 95.5 }}",
    "hosts": "{{ event.labels.instance.split(':') }}",
    "labels": "{{ {'job': event.labels.job, 'n': 2, 'ok': true, 'none': none} }}",
    "instance": "{{ event.labels.instance }}",
    "count": "{{ 3 }}",
}


def test_templates_give_the_types_the_runbook_schema_asks_for(client, source):
    """`{{ x == "y" }}` renders "False": the schema's boolean gets False, and
    numbers, lists and objects likewise; a string parameter stays a string."""
    make_binding(make_runbook(name="Typed", parameters=TYPED_SCHEMA), source[0], parameters=TYPED_TEMPLATES)
    (run,) = _runs(post(client, "am", load("alertmanager/firing-one-alert.json"), source[1])).values()
    assert run.status == "queued", run.error
    assert run.parameters == {
        "critical": True,
        "resolved": False,
        "port": 8080,
        "load": 95.5,
        "hosts": ["api-03", "8080"],
        "labels": {"job": "api", "n": 2, "ok": True, "none": None},
        "instance": "api-03:8080",
        "count": "3",
    }


@pytest.mark.parametrize(
    "name,template",
    [
        ("port", "{{ 'NaN' }}"),
        ("load", "{{ 'Infinity' }}"),
        ("load", "{{ '1e400' }}"),
        ("hosts", "{{ 'api-03 api-04' }}"),
        ("hosts", "{{ [event.labels.instance.encode()] }}"),
        ("labels", "{{ 'not an object' }}"),
        ("critical", "{{ 'yes please' }}"),
    ],
)
def test_a_rendered_value_that_is_not_the_declared_type_fails_the_schema_clearly(client, source, name, template):
    make_binding(
        make_runbook(name="Typed", parameters=TYPED_SCHEMA),
        source[0],
        name="typed",
        parameters={**TYPED_TEMPLATES, name: template},
    )
    (run,) = _runs(post(client, "am", load("alertmanager/firing-one-alert.json"), source[1])).values()
    assert run.status == "failed"
    assert run.error.startswith("Binding typed: Invalid parameters:") and name in run.error


@pytest.mark.parametrize(
    "template",
    [
        "{{ 9 ** 999999999 }}",
        "{{ 2 ** 256 ** 256 ** 256 }}",
        "{% set x = 10 ** 200000 %}{{ x * x * x * x * x * x }}",
        '{{ "x" * 10 ** 9 }}',
        "{{ [0] * 10 ** 9 }}",
        '{{ "x".center(10 ** 9) }}',
    ],
)
def test_a_template_building_a_huge_value_fails_at_once(template):
    """Rendering runs in the webhook's request: one binding must not hold a
    web worker's CPU or memory for every alert it matches."""
    started = time.monotonic()
    with pytest.raises(templating.RenderError, match=r"too large|more than"):
        templating.render(template, {"event": {}})
    assert time.monotonic() - started < 1.0


def test_ordinary_arithmetic_and_repetition_still_render():
    rendered = templating.render("{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 6 * 7 }} {{ 'x'.center(5) }}", {})
    assert rendered == "1024 ababab 42   x  "
