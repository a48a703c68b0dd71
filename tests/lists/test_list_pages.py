"""The list pages as an on-call engineer uses them: a filter form with
labels, the errors it shows for bad input, links that keep the filters,
sortable columns, and an empty state that says how to clear the filters."""

import re
from html import unescape

import pytest

from runbooks.models import Execution

PAGES = ["/executions/", "/events/", "/runbooks/", "/bindings/", "/sources/", "/audit/"]


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


def _links(html: str, rel: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'<a href="([^"]+)" rel="{rel}"', html)]


@pytest.mark.parametrize("url", PAGES)
def test_every_list_has_a_filter_form_with_visible_labels(browser, db, url):
    html = browser.get(url).content.decode()
    form = html[html.index('<form method="get" class="filters"') :]
    form = form[: form.index("</form>")]
    ids = re.findall(r'<input[^>]*\bid="([^"]+)"', form) + re.findall(r'<select[^>]*\bid="([^"]+)"', form)
    assert ids
    for control in ids:
        assert f'for="{control}"' in form, f"{url}: no label for {control}"


def test_filters_narrow_the_executions_page_and_the_next_link_keeps_them(browser, crowd):
    response = browser.get("/executions/?status=succeeded&runbook=rb-000&page_size=2")
    html = response.content.decode()
    shown = Execution.objects.filter(status="succeeded", runbook__slug="rb-000").order_by("-created_at")[:2]
    for execution in shown:
        assert f"/executions/{execution.pk}/" in html
    assert html.count('class="status status-succeeded"') == 2 and "status-failed" not in html
    (next_url,) = _links(html, "next")
    assert "status=succeeded" in next_url and "runbook=rb-000" in next_url and "page_size=2" in next_url
    second = browser.get(f"/executions/{next_url}").content.decode()
    (previous_url,) = _links(second, "prev")
    back = browser.get(f"/executions/{previous_url}").content.decode()
    assert [m for m in re.findall(r"/executions/([0-9a-f-]{36})/", back)] == [str(x.pk) for x in shown]


def test_keyset_pages_walk_every_row_once_in_either_order(browser, crowd):
    for ordering in ("-created_at", "created_at"):
        seen, url = [], f"/executions/?status=failed&ordering={ordering}&page_size=9"
        while url:
            html = browser.get(url).content.decode()
            seen += re.findall(r'<a href="/executions/([0-9a-f-]{36})/">', html)
            nexts = _links(html, "next")
            url = f"/executions/{nexts[0]}" if nexts else None
        expected = Execution.objects.filter(status="failed").order_by(ordering, "pk" if ordering[0] != "-" else "-pk")
        assert seen == [str(x.pk) for x in expected]


def test_column_headers_sort_and_keep_the_filters(browser, crowd):
    html = browser.get("/runbooks/?q=Runbook").content.decode()
    link = unescape(re.search(r'<a href="(\?[^"]*ordering=-name[^"]*)" title="Sort by name"', html).group(1))
    assert "q=Runbook" in link
    sorted_html = browser.get(f"/runbooks/{link}").content.decode()
    names = re.findall(r">(Runbook \d{3})</a>", sorted_html)
    assert names == sorted(names, reverse=True)[: len(names)] and names[0] == "Runbook 119"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/executions/?status=exploded", "Select a valid choice"),
        ("/executions/?created_after=yesterday", "an ISO 8601 time"),
        ("/events/?ordering=name", "Select a valid choice"),
        ("/audit/?since=nope", "an ISO 8601 time"),
        ("/bindings/?enabled=maybe", "Select a valid choice"),
        ("/executions/?q=ab", "at least 3 characters"),
    ],
)
def test_bad_filter_input_shows_the_form_error_not_a_500(browser, db, url, message):
    response = browser.get(url)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'role="alert"' in html and "Fix the filters above" in html


@pytest.mark.parametrize("url", PAGES)
def test_no_match_says_so_and_how_to_clear_the_filters(browser, crowd, url):
    response = browser.get(f"{url}?created_after=2999-01-01T00:00:00Z")
    assert response.status_code == 200
    html = response.content.decode()
    assert "matches these filters" in html
    assert f'<a href="{url}">Clear the filters</a>' in html
