"""The dashboard, an execution's page and an event's page in headless
Chromium, as a person uses them: a live log they follow and pause, colours
in the output, the raw alert folded away, a phone's screen, the dark theme,
the keyboard."""

import pytest
from django.utils import timezone

from events.models import Event
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, make_binding, make_runbook, make_source, make_user
from tests.pages.conftest import add_lines, run_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CSP_REFUSALS = "Content Security Policy"


@pytest.fixture
def person(page, live_server):
    """The page, logged in as a responder; CSP refusals collected on the way."""
    make_user("responder", username="oncall")
    refused = []
    page.on("console", lambda m: refused.append(m.text) if CSP_REFUSALS in m.text else None)
    log_in(page, live_server.url, "oncall", PASSWORD)
    page.refused = refused
    return page


def log_lines(page) -> list[str]:
    return page.locator("#log .line .text").all_inner_texts()


def test_a_live_log_follows_new_lines_and_pauses(person, live_server):
    page = person
    execution = run_of(make_runbook(slug="rb"), "running", started_at=timezone.now())
    add_lines(execution, [f"early {i}" for i in range(1, 4)])
    page.goto(f"{live_server.url}/executions/{execution.pk}/")
    follow, pause = page.get_by_role("button", name="Follow"), page.get_by_role("button", name="Pause")
    assert follow.get_attribute("aria-pressed") == "true" and pause.is_visible()

    # Enough lines to overflow the log's box: following keeps the last in view.
    add_lines(execution, [f"step {i}" for i in range(4, 204)], first=4)
    page.get_by_role("log").get_by_text("step 203", exact=True).wait_for()
    page.wait_for_timeout(300)
    gap = page.evaluate(
        "() => { const l = document.getElementById('log'); return l.scrollHeight - l.scrollTop - l.clientHeight }"
    )
    assert gap < 5

    pause.click()
    resume = page.get_by_role("button", name="Resume")
    assert resume.get_attribute("aria-pressed") == "true"
    add_lines(execution, ["while paused"], first=204)
    page.wait_for_timeout(2500)  # two polls' worth
    assert "while paused" not in log_lines(page)

    resume.click()
    page.get_by_role("log").get_by_text("while paused").wait_for()
    assert log_lines(page).count("while paused") == 1 and len(log_lines(page)) == 204

    # Scrolling up to read stops following.
    page.evaluate("() => { document.getElementById('log').scrollTop = 0 }")
    page.wait_for_timeout(200)
    assert follow.get_attribute("aria-pressed") == "false"

    from runbooks.models import Execution

    Execution.objects.filter(pk=execution.pk).update(status="succeeded", finished_at=timezone.now(), exit_code=0)
    page.locator(".status", has_text="succeeded").first.wait_for()
    page.wait_for_timeout(300)
    assert page.locator("#log-poller").count() == 0
    assert not follow.is_visible() and not page.get_by_role("button", name="Pause").is_visible()
    assert page.refused == []


def test_ansi_colours_show_as_coloured_classes_and_markup_stays_text(person, live_server):
    page = person
    execution = run_of(make_runbook(slug="rb"), "succeeded", finished_at=timezone.now())
    add_lines(execution, ["\x1b[1;31mERROR\x1b[0m <b>not bold</b>", "\x1b[32mok\x1b[0m"])
    page.goto(f"{live_server.url}/executions/{execution.pk}/")
    red = page.locator("#log .ansi-fg-1")
    assert red.inner_text() == "ERROR" and "ansi-bold" in red.get_attribute("class")
    assert page.locator("#log b").count() == 0 and "<b>not bold</b>" in log_lines(page)[0]
    colour = red.evaluate("e => getComputedStyle(e).color")
    plain = page.locator("#log .line .text").first.evaluate("e => getComputedStyle(e).color")
    green = page.locator("#log .ansi-fg-2").evaluate("e => getComputedStyle(e).color")
    assert len({colour, plain, green}) == 3
    assert red.evaluate("e => getComputedStyle(e).fontWeight") == "700"


def test_a_long_log_loads_earlier_lines_on_request(person, live_server):
    page = person
    execution = run_of(make_runbook(slug="rb"), "succeeded", finished_at=timezone.now())
    add_lines(execution, [f"line {i}" for i in range(1, 531)])
    page.goto(f"{live_server.url}/executions/{execution.pk}/")
    assert len(log_lines(page)) == 500 and log_lines(page)[0] == "line 31"
    page.get_by_role("button", name="Show 30 earlier lines").click()
    page.get_by_role("log").get_by_text("line 1", exact=True).wait_for()
    assert log_lines(page) == [f"line {i}" for i in range(1, 531)]
    assert page.get_by_role("button", name="Show 30 earlier lines").count() == 0


def test_the_raw_json_is_folded_and_opens_with_the_keyboard(person, live_server):
    page = person
    source, _ = make_source("am", "alertmanager")
    event = Event.objects.create(
        source=source, status="firing", name="DiskFull", fingerprint="f", payload={"receiver": "steward-hook"}
    )
    make_binding(
        make_runbook(slug="rb"), source, name="Prod only", match=[{"path": "labels.env", "op": "eq", "value": "prod"}]
    )
    page.goto(f"{live_server.url}/events/{event.pk}/")
    raw = page.locator("details.raw pre")
    assert not raw.is_visible()
    assert page.get_by_text("labels.env is missing").is_visible()
    page.locator("details.raw summary").focus()
    page.keyboard.press("Enter")
    raw.wait_for(state="visible")
    assert '"receiver": "steward-hook"' in raw.inner_text()
    page.locator("details.raw summary").click()
    raw.wait_for(state="hidden")


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"the page is {width[0]}px wide on a {width[1]}px screen"


def test_a_phone_shows_dashboard_and_execution_without_sideways_scrolling(person, live_server):
    page = person
    page.set_viewport_size({"width": 375, "height": 667})
    runbook = make_runbook(name="A runbook with a rather long name for a phone", slug="long")
    source, _ = make_source("am", "alertmanager")
    make_binding(runbook, source, name="Tripped one", tripped_at=timezone.now(), tripped_reason="3 failures")
    event = Event.objects.create(
        source=source, status="firing", name="DiskFullOnAVeryLongHostName" * 2, fingerprint="f"
    )
    for status in ("running", "awaiting_approval", "failed", "succeeded"):
        run_of(runbook, status, event=event, finished_at=timezone.now())
    execution = run_of(
        runbook,
        "succeeded",
        parameters={"path": "/var/log/" + "very-long-directory-name/" * 8},
        finished_at=timezone.now(),
        result={"freed": "x" * 200},
    )
    add_lines(execution, ["a-very-long-unbroken-line-of-output-" * 10])

    page.goto(f"{live_server.url}/")
    page.locator("#chart-runs").wait_for()
    _no_horizontal_scroll(page)
    page.goto(f"{live_server.url}/executions/{execution.pk}/")
    page.get_by_role("log").wait_for()
    _no_horizontal_scroll(page)
    page.goto(f"{live_server.url}/events/{event.pk}/")
    _no_horizontal_scroll(page)
    assert page.refused == []


def _background(page) -> float:
    """The page background's luminance, 0 (black) to 255 (white)."""
    rgb = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_theme_follows_the_system(person, live_server):
    page = person
    run_of(make_runbook(slug="rb"), "failed", finished_at=timezone.now())
    page.emulate_media(color_scheme="light")
    page.goto(f"{live_server.url}/")
    light_bg = _background(page)
    light_bad = page.locator(".status-failed").first.evaluate("e => getComputedStyle(e).color")
    page.emulate_media(color_scheme="dark")
    page.goto(f"{live_server.url}/")
    assert light_bg > 200 and _background(page) < 60
    # The status colours change with the theme, to stay readable on it.
    assert page.locator(".status-failed").first.evaluate("e => getComputedStyle(e).color") != light_bad


def test_the_keyboard_skips_to_the_content_and_reaches_the_navigation(person, live_server):
    page = person
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    assert skip.evaluate("e => e === document.activeElement") and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    assert page.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
    page.goto(f"{live_server.url}/executions/")
    assert page.get_by_role("link", name="Executions", exact=True).get_attribute("aria-current") == "page"
