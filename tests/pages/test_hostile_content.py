"""Whatever a runbook printed or a tool sent, its page renders: an absurd
ANSI parameter and JSON nested thousands of levels deep are shown bounded."""

import json

import pytest
from django.db import connection

from events.models import Event
from tests.factories import make_runbook, make_source
from tests.pages.conftest import add_lines, run_of
from webui import ansi

pytestmark = pytest.mark.django_db

ESC = "\x1b"
HUGE_PARAMETER = f"{ESC}[" + "9" * 5000 + "m"


def test_an_ansi_parameter_of_5000_digits_is_ignored_not_an_error():
    assert ansi.to_html(f"{HUGE_PARAMETER}still here{ESC}[1mbold") == 'still here<span class="ansi-bold">bold</span>'
    assert ansi.to_html(f"{ESC}[38;5;{'7' * 5000}mx{ESC}[38;2;{'1' * 5000};0;0my") == "xy"
    assert ansi.to_html(f"{ESC}[" + ";" * 20000 + "31mred") == '<span class="ansi-fg-1">red</span>'


def test_the_run_page_and_its_log_poll_show_a_line_with_a_huge_ansi_parameter(logged_in):
    execution = run_of(make_runbook(slug="rb"), "succeeded")
    add_lines(execution, [f"before {HUGE_PARAMETER}after"])
    page = logged_in.get(f"/executions/{execution.pk}/")
    assert page.status_code == 200 and "before after" in page.content.decode()
    api = logged_in.get(f"/api/v1/executions/{execution.pk}/log/?after=0")
    assert api.status_code == 200 and api.json()["lines"][0]["text"].startswith("before ")


def nested(depth: int, leaf="bottom"):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_an_event_nested_hundreds_of_levels_deep_renders_bounded(logged_in):
    source, _ = make_source("gen", "generic")
    event = Event.objects.create(
        source=source,
        status="firing",
        name="Deep",
        fingerprint="deep",
        labels={"deep": nested(400)},
        annotations={"note": "plain"},
        payload={"deep": nested(400)},
    )
    response = logged_in.get(f"/events/{event.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "nested deeper than 32 levels, not shown" in html and "plain" in html
    assert logged_in.get("/events/").status_code == 200


def test_an_event_stored_too_deep_for_python_to_read_still_renders(logged_in):
    source, _ = make_source("gen", "generic")
    event = Event.objects.create(source=source, status="firing", name="Deeper", fingerprint="deeper")
    # Written around the ORM (as psql or a restore would): json.dumps refuses this depth.
    document = "[" * 990 + "]" * 990
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Event._meta.db_table} SET payload = %s, labels = %s WHERE id = %s",
            [
                document,
                json.dumps({"k": "v"}).replace('"v"', document),
                event.pk.hex if connection.vendor == "sqlite" else event.pk,
            ],
        )
    response = logged_in.get(f"/events/{event.pk}/")
    assert response.status_code == 200
    assert "nested too deeply to read" in response.content.decode() and "Deeper" in response.content.decode()
    assert logged_in.get("/events/").status_code == 200
    assert logged_in.get(f"/api/v1/events/{event.pk}/").status_code == 200
