"""Keyset pagination of the pages' lists, as a person paging through one
sees it: every row once, in order, forwards and back, ties broken by id, and
an edited cursor starting the list from the top instead of failing.

Written for the mutants `make mutate` found in webui/pagination.py. Plain
Django models (groups, users) stand in for Steward's lists: the paginator
knows only a queryset, a field and the primary key.
"""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from webui import pagination

pytestmark = pytest.mark.django_db

NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]


@pytest.fixture
def groups():
    # the migrations made the role groups: each test lists only its own
    return [Group.objects.create(name=n) for n in NAMES]


def names(page):
    return [row.name for row in page.rows]


def raw_cursor(value, pk) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, pk]).encode()).decode()


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
    first = pagination.keyset(queryset, {}, "name", size=2)
    assert names(first) == ["alpha", "bravo"] and first.previous_cursor is None and first.next_cursor
    second = pagination.keyset(queryset, {"after": first.next_cursor}, "name", size=2)
    assert names(second) == ["charlie", "delta"] and second.previous_cursor and second.next_cursor
    third = pagination.keyset(queryset, {"after": second.next_cursor}, "name", size=2)
    assert names(third) == ["echo"] and third.next_cursor is None and third.previous_cursor
    back = pagination.keyset(queryset, {"before": third.previous_cursor}, "name", size=2)
    assert names(back) == ["charlie", "delta"] and back.previous_cursor and back.next_cursor
    start = pagination.keyset(queryset, {"before": back.previous_cursor}, "name", size=2)
    assert names(start) == ["alpha", "bravo"] and start.previous_cursor is None
    assert names(pagination.keyset(queryset, {"after": start.next_cursor}, "name", size=2)) == ["charlie", "delta"]


def test_paging_a_descending_order_goes_down_and_back_up(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    first = pagination.keyset(queryset, {}, "-name", size=3)
    assert names(first) == ["echo", "delta", "charlie"]
    second = pagination.keyset(queryset, {"after": first.next_cursor}, "-name", size=3)
    assert names(second) == ["bravo", "alpha"] and second.next_cursor is None
    back = pagination.keyset(queryset, {"before": second.previous_cursor}, "-name", size=3)
    assert names(back) == ["echo", "delta", "charlie"] and back.previous_cursor is None


def test_before_wins_over_after(groups):
    queryset = Group.objects.filter(name__in=NAMES)
    first = pagination.keyset(queryset, {}, "name", size=2)
    second = pagination.keyset(queryset, {"after": first.next_cursor}, "name", size=2)
    both = pagination.keyset(queryset, {"after": second.next_cursor, "before": second.previous_cursor}, "name", size=2)
    assert names(both) == ["alpha", "bravo"]


def test_a_page_before_the_first_row_is_empty_and_says_so(groups):
    alpha = groups[0]
    page = pagination.keyset(
        Group.objects.filter(name__in=NAMES), {"before": raw_cursor("alpha", str(alpha.pk))}, "name", size=2
    )
    assert page.rows == [] and page.next_cursor is None and page.previous_cursor is None


def test_rows_with_the_same_value_are_told_apart_by_id():
    users = get_user_model().objects
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    made = [users.create(username=f"u{i}", date_joined=moment) for i in range(3)]
    queryset = users.filter(pk__in=[u.pk for u in made])
    first = pagination.keyset(queryset, {}, "-date_joined", size=2)
    second = pagination.keyset(queryset, {"after": first.next_cursor}, "-date_joined", size=2)
    assert [u.pk for u in first.rows + second.rows] == sorted((u.pk for u in made), reverse=True)
    ascending = pagination.keyset(queryset, {}, "date_joined", size=2)
    rest = pagination.keyset(queryset, {"after": ascending.next_cursor}, "date_joined", size=2)
    assert [u.pk for u in ascending.rows + rest.rows] == sorted(u.pk for u in made)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(b"[1]").decode(),
        raw_cursor(None, "1"),
        raw_cursor("delta", "x"),
        raw_cursor("delta", str(2**63)),
        raw_cursor("delta", "0"),
    ],
)
def test_an_edited_cursor_starts_the_list_from_the_top(groups, cursor):
    for key in ("after", "before"):
        page = pagination.keyset(Group.objects.filter(name__in=NAMES), {key: cursor}, "name", size=2)
        assert names(page) == ["alpha", "bravo"], (key, cursor)


def test_an_integer_sort_value_out_of_range_starts_from_the_top(groups):
    cursor = raw_cursor(2**63, str(groups[0].pk))
    page = pagination.keyset(Group.objects.filter(name__in=NAMES), {"after": cursor}, "id", size=2)
    assert [g.pk for g in page.rows] == sorted(g.pk for g in groups)[:2]
    inside = raw_cursor(groups[1].pk, str(groups[1].pk))
    assert [
        g.pk for g in pagination.keyset(Group.objects.filter(name__in=NAMES), {"after": inside}, "id", size=2).rows
    ] == [g.pk for g in groups[2:4]]


def test_the_simple_pager_goes_newest_first_by_time_then_id():
    users = get_user_model().objects
    base = datetime(2024, 1, 1, tzinfo=UTC)
    made = [users.create(username=f"t{i}", date_joined=base + timedelta(minutes=i // 2)) for i in range(5)]
    queryset = users.filter(pk__in=[u.pk for u in made])
    rows, cursor = pagination.page(queryset, None, "date_joined", size=2)
    seen = list(rows)
    while cursor:
        rows, cursor = pagination.page(queryset, cursor, "date_joined", size=2)
        seen += rows
    expected = sorted(made, key=lambda u: (u.date_joined, u.pk), reverse=True)
    assert [u.pk for u in seen] == [u.pk for u in expected]


def test_a_simple_cursor_round_trips_and_an_edited_one_starts_from_the_top():
    moment = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert pagination.decode(pagination.encode(moment, 42)) == (moment, "42")
    assert pagination.decode("garbage") is None
    users = get_user_model().objects
    made = [users.create(username=f"s{i}", date_joined=moment + timedelta(minutes=i)) for i in range(3)]
    queryset = users.filter(pk__in=[u.pk for u in made])
    for edited in (
        "garbage",
        pagination.encode(moment, "x"),
        pagination.encode(moment, 2**63),
        pagination.encode(moment, 0),
    ):
        rows, _ = pagination.page(queryset, edited, "date_joined", size=2)
        assert [u.pk for u in rows] == [made[2].pk, made[1].pk], edited
