"""Keyset pagination (core/keyset.py, the one paginator) as a person paging
through a list sees it: every row once, in order, forwards and back, ties
broken by id; an edited cursor refused (the API's 400) or, on a page
(webui/pagination.py), the list started from the top instead of failing.

Written for the mutants `make mutate` found. Plain Django models (groups,
users) stand in for Steward's lists: the paginator knows only a queryset,
a field and the primary key.
"""

import base64
import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory

from core import keyset
from webui import pagination

pytestmark = pytest.mark.django_db

NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]


@pytest.fixture
def groups():
    # the migrations made the role groups: each test lists only its own
    return [Group.objects.create(name=n) for n in NAMES]


def names(page):
    return [row.name for row in page.rows]


def raw_cursor(direction, value, pk) -> str:
    return base64.urlsafe_b64encode(json.dumps([direction, value, pk]).encode()).decode()


@pytest.mark.parametrize(
    "given,size",
    [
        ({}, 50),
        ({"page_size": "10"}, 10),
        ({"page_size": "1"}, 1),
        ({"page_size": "0"}, 1),
        ({"page_size": "-5"}, 1),
        ({"page_size": "500"}, 500),
        ({"page_size": "501"}, 500),
        ({"page_size": "ten"}, 50),
        ({"page_size": None}, 50),
    ],
)
def test_the_page_size_is_clamped_to_1_to_500_and_nonsense_is_the_default(given, size):
    assert pagination.page_size(given) == size


def test_a_custom_default_page_size_is_kept():
    assert pagination.page_size({}, default=20) == 20
    assert pagination.page_size({"page_size": "x"}, default=20) == 20


def test_paging_forward_shows_every_row_once_and_back_returns_the_same_pages(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    first = keyset.page(queryset, "name", None, 2)
    assert names(first) == ["alpha", "bravo"] and first.previous is None and first.next
    second = keyset.page(queryset, "name", first.next, 2)
    assert names(second) == ["charlie", "delta"] and second.previous and second.next
    third = keyset.page(queryset, "name", second.next, 2)
    assert names(third) == ["echo"] and third.next is None and third.previous
    back = keyset.page(queryset, "name", third.previous, 2)
    assert names(back) == ["charlie", "delta"] and back.previous and back.next
    start = keyset.page(queryset, "name", back.previous, 2)
    assert names(start) == ["alpha", "bravo"] and start.previous is None
    assert names(keyset.page(queryset, "name", start.next, 2)) == ["charlie", "delta"]


def test_paging_a_descending_order_goes_down_and_back_up(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    first = keyset.page(queryset, "-name", None, 3)
    assert names(first) == ["echo", "delta", "charlie"]
    second = keyset.page(queryset, "-name", first.next, 3)
    assert names(second) == ["bravo", "alpha"] and second.next is None
    back = keyset.page(queryset, "-name", second.previous, 3)
    assert names(back) == ["echo", "delta", "charlie"] and back.previous is None


def test_a_page_before_the_first_row_is_empty_and_says_so(groups):
    alpha = groups[0]
    page = keyset.page(Group.objects.filter(name__in=NAMES), "name", raw_cursor("<", "alpha", str(alpha.pk)), 2)
    assert page.rows == [] and page.next is None and page.previous is None


def test_rows_with_the_same_value_are_told_apart_by_id():
    users = get_user_model().objects
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    made = [users.create(username=f"u{i}", date_joined=moment) for i in range(3)]
    queryset = users.filter(pk__in=[u.pk for u in made])
    first = keyset.page(queryset, "-date_joined", None, 2)
    second = keyset.page(queryset, "-date_joined", first.next, 2)
    assert [u.pk for u in first.rows + second.rows] == sorted((u.pk for u in made), reverse=True)
    back = keyset.page(queryset, "-date_joined", second.previous, 2)
    assert [u.pk for u in back.rows] == [u.pk for u in first.rows]
    ascending = keyset.page(queryset, "date_joined", None, 2)
    rest = keyset.page(queryset, "date_joined", ascending.next, 2)
    assert [u.pk for u in ascending.rows + rest.rows] == sorted(u.pk for u in made)


EDITED = [
    "not base64!",
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    base64.urlsafe_b64encode(b"[1]").decode(),
    raw_cursor(">", None, "1"),
    raw_cursor("=", "delta", "1"),
    raw_cursor(">", "delta", "x"),
    raw_cursor(">", "delta", str(2**63)),
    raw_cursor("<", "delta", str(-(2**63))),
]


@pytest.mark.parametrize("cursor", EDITED)
def test_an_edited_cursor_is_refused_and_a_page_starts_from_the_top(groups, cursor):
    queryset = Group.objects.filter(name__in=NAMES)
    with pytest.raises(keyset.InvalidCursor):
        keyset.page(queryset, "name", cursor, 2)
    rows, links = pagination.page(RequestFactory().get("/", {"cursor": cursor, "page_size": 2}), queryset, "name")
    assert [g.name for g in rows] == ["alpha", "bravo"] and links["previous_url"] is None


def test_an_integer_sort_value_out_of_range_is_refused(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    with pytest.raises(keyset.InvalidCursor):
        keyset.page(queryset, "id", raw_cursor(">", 2**63, str(groups[0].pk)), 2)
    inside = raw_cursor(">", groups[1].pk, str(groups[1].pk))
    assert [g.pk for g in keyset.page(queryset, "id", inside, 2).rows] == [g.pk for g in groups[2:4]]


def test_a_time_without_an_offset_is_refused_and_one_with_any_offset_is_read_in_utc():
    users = get_user_model().objects
    made = users.create(username="t", date_joined=datetime(2024, 1, 1, 12, tzinfo=UTC))
    queryset = users.filter(pk=made.pk)
    with pytest.raises(keyset.InvalidCursor):
        keyset.page(queryset, "-date_joined", raw_cursor(">", "2024-01-02T00:00:00", str(made.pk + 1)), 2)
    # 2024-01-02 00:00 at -16:05 is after noon on the 1st in UTC: the row is older.
    later = raw_cursor(">", "2024-01-02T00:00:00-16:05", str(made.pk + 1))
    assert keyset.page(queryset, "-date_joined", later, 2).rows == [made]


def test_the_page_links_keep_the_filters_and_replace_the_cursor(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    request = RequestFactory().get(
        "/", {"q": "x", "page_size": 2, "cursor": keyset.page(queryset, "name", None, 2).next}
    )
    rows, links = pagination.page(request, queryset, "name")
    assert [g.name for g in rows] == ["charlie", "delta"]
    for url in (links["next_url"], links["previous_url"]):
        assert url.startswith("?") and "q=x" in url and "page_size=2" in url and url.count("cursor=") == 1


def test_a_list_of_exactly_one_page_offers_no_other_page_either_way(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    whole = keyset.page(queryset, "name", None, len(NAMES))
    assert names(whole) == NAMES and whole.next is None and whole.previous is None
    # Back from past the last row, exactly a page's worth before it.
    past = raw_cursor("<", "zulu", str(max(g.pk for g in groups) + 1))
    back = keyset.page(queryset, "name", past, len(NAMES))
    assert names(back) == NAMES and back.previous is None and back.next


def test_the_next_link_of_a_page_reached_backwards_follows_its_last_row(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    last = keyset.page(queryset, "name", keyset.page(queryset, "name", None, 1).next, 4)
    assert names(last) == ["bravo", "charlie", "delta", "echo"]
    back = keyset.page(queryset, "name", last.previous, 3)
    assert names(back) == ["alpha"]
    middle = keyset.page(queryset, "name", raw_cursor("<", "echo", str(groups[4].pk)), 3)
    assert names(middle) == ["bravo", "charlie", "delta"]
    assert names(keyset.page(queryset, "name", middle.next, 3)) == ["echo"]
    assert names(keyset.page(queryset, "name", middle.previous, 3)) == ["alpha"]
