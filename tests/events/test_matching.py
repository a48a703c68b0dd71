import time

import pytest

from events import matching, paths

EVENT = {
    "name": "HighDiskUsage",
    "status": "firing",
    "severity": "critical",
    "fingerprint": "abc",
    "summary": "Disk 95% full",
    "labels": {"instance": "web-01:9100", "app.kubernetes.io/name": "checkout", "value": "97.5"},
    "annotations": {},
    "payload": {"items": [{"id": 7}, {"id": 8}], "count": 3},
}


@pytest.mark.parametrize(
    "path,expected",
    [
        ("labels.instance", "web-01:9100"),
        ('labels["app.kubernetes.io/name"]', "checkout"),
        ("payload.items[1].id", 8),
        ("payload.items[-1].id", 8),
        ("payload.items[5].id", paths.MISSING),
        ("labels.nope", paths.MISSING),
        ("name.inner", paths.MISSING),
    ],
)
def test_paths_resolve(path, expected):
    assert (
        paths.resolve(EVENT, path) == expected
        if expected is not paths.MISSING
        else paths.resolve(EVENT, path) is paths.MISSING
    )


@pytest.mark.parametrize(
    "condition,holds",
    [
        ({"path": "labels.instance", "op": "eq", "value": "web-01:9100"}, True),
        ({"path": "labels.instance", "op": "eq", "value": "web-02:9100"}, False),
        ({"path": "severity", "op": "in", "value": ["critical", "page"]}, True),
        ({"path": "severity", "op": "not_in", "value": ["critical"]}, False),
        ({"path": "summary", "op": "contains", "value": "95%"}, True),
        ({"path": "summary", "op": "icontains", "value": "DISK"}, True),
        ({"path": "labels.instance", "op": "regex", "value": "^web-0[12]:"}, True),
        ({"path": "name", "op": "iregex", "value": "diskusage$"}, True),
        ({"path": "labels.instance", "op": "glob", "value": "web-*"}, True),
        ({"path": "labels.instance", "op": "startswith", "value": "db"}, False),
        ({"path": "labels.value", "op": "gt", "value": 90}, True),
        ({"path": "labels.value", "op": "lte", "value": 90}, False),
        ({"path": "summary", "op": "gt", "value": 1}, False),  # a non-number never matches
        ({"path": "payload.count", "op": "eq", "value": "3"}, True),
        ({"path": "labels.team", "op": "exists"}, False),
        ({"path": "labels.team", "op": "not_exists"}, True),
        ({"path": "labels.team", "op": "ne", "value": "db"}, True),  # missing: a negation holds
        ({"path": "labels.team", "op": "eq", "value": "db"}, False),
    ],
)
def test_operators(condition, holds):
    matching.validate([condition])
    assert matching.holds(condition, EVENT) is holds


def test_all_conditions_must_hold_and_the_reason_names_the_failing_one():
    matched, reason = matching.evaluate(
        [
            {"path": "severity", "op": "eq", "value": "critical"},
            {"path": "labels.instance", "op": "eq", "value": "db-01"},
        ],
        EVENT,
    )
    assert not matched
    assert reason == "labels.instance is 'web-01:9100', not 'db-01'"


@pytest.mark.parametrize(
    "conditions,reason",
    [
        ([{"path": "labels.team", "op": "eq", "value": "db"}], "labels.team is missing"),
        ([{"path": "summary", "op": "gt", "value": 3}], "summary is 'Disk 95% full', which is not a number"),
        ([{"path": "labels.value", "op": "lt", "value": 50}], "labels.value is '97.5', not less than 50"),
        (
            [{"path": "severity", "op": "in", "value": ["page", "warning"]}],
            "severity is 'critical', which is not one of ['page', 'warning']",
        ),
        (
            [{"any": [{"path": "name", "op": "eq", "value": "A"}, {"path": "labels.x", "op": "exists"}]}],
            "none of the alternatives holds: name is 'HighDiskUsage', not 'A'; labels.x is missing",
        ),
    ],
)
def test_a_non_match_is_explained_in_words(conditions, reason):
    assert matching.evaluate(conditions, EVENT) == (False, reason)


def test_any_group_is_an_or():
    conditions = [
        {
            "any": [
                {"path": "severity", "op": "eq", "value": "warning"},
                {"path": "name", "op": "eq", "value": "HighDiskUsage"},
            ]
        }
    ]
    matching.validate(conditions)
    assert matching.evaluate(conditions, EVENT)[0]


@pytest.mark.parametrize(
    "conditions,message",
    [
        ({"path": "a"}, "list"),
        ([{"path": "name", "op": "like", "value": "x"}], "not one of"),
        ([{"path": "name", "op": "in", "value": "x"}], "takes a list"),
        ([{"path": "name", "op": "regex", "value": "("}], "invalid regex"),
        ([{"path": "name", "op": "eq"}], "needs a value"),
        ([{"op": "eq", "value": 1}], "path"),
        ([{"path": "labels..x", "op": "eq", "value": 1}], "path"),
        ([{"any": []}], "non-empty"),
    ],
)
def test_invalid_conditions_are_refused_with_a_message(conditions, message):
    with pytest.raises(matching.ConditionError, match=message):
        matching.validate(conditions)


def _evil_event(label: str) -> dict:
    return {**EVENT, "labels": {**EVENT["labels"], "x": label}}


@pytest.mark.parametrize("op", ["regex", "iregex"])
def test_a_catastrophic_pattern_against_a_long_evil_label_finishes_at_once(op):
    """`^(a+)+$` against 29 a's and a b took Python's `re` ~10 s per alert and
    froze the web tier; the linear-time engine answers in microseconds."""
    condition = {"path": "labels.x", "op": op, "value": "^(a+)+$"}
    matching.validate([condition])
    started = time.monotonic()
    for length in (29, 40, 10_000):
        assert matching.holds(condition, _evil_event("a" * length + "b")) is False
    assert matching.holds(condition, _evil_event("a" * 29)) is True
    assert time.monotonic() - started < 1.0


def test_regex_searches_anywhere_and_iregex_ignores_case():
    assert matching.holds({"path": "summary", "op": "regex", "value": "95%"}, EVENT)
    assert not matching.holds({"path": "summary", "op": "regex", "value": "^95%"}, EVENT)
    assert not matching.holds({"path": "summary", "op": "regex", "value": "disk"}, EVENT)
    assert matching.holds({"path": "summary", "op": "iregex", "value": "DISK 9[0-9]%"}, EVENT)


@pytest.mark.parametrize(
    "pattern,message",
    [
        (r"(a)\1", "invalid regex.*backreferences"),  # RE2 has no backreferences
        (r"web(?=-01)", "invalid regex"),  # nor lookarounds
        ("a{1000}{1000}", "invalid regex"),
        ("x" * 1001, "the pattern is longer than 1000"),
    ],
)
def test_a_pattern_the_linear_engine_refuses_is_refused_at_save(pattern, message):
    with pytest.raises(matching.ConditionError, match=f"match\\[0\\]: {message}"):
        matching.validate([{"path": "name", "op": "regex", "value": pattern}])


def test_a_refused_pattern_stored_earlier_never_matches_and_never_raises():
    assert matching.holds({"path": "name", "op": "regex", "value": r"(H)\1"}, EVENT) is False


def test_other_operators_stay_fast_on_long_hostile_values():
    long_label = "a" * 500_000
    event = _evil_event(long_label)
    conditions = [
        {"path": "labels.x", "op": "glob", "value": "*a*a*a*a*a*a*a*a*a*a*b"},
        {"path": "labels.x", "op": "contains", "value": "a" * 1000 + "b"},
        {"path": "labels.x", "op": "in", "value": [long_label[:-1], "b"]},
        {"path": "labels.x", "op": "icontains", "value": "B"},
        {"path": "labels.x", "op": "gt", "value": 1},
    ]
    matching.validate(conditions)
    started = time.monotonic()
    assert [matching.holds(c, event) for c in conditions] == [False] * 5
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("path", ["labels." + "a." * 300 + "b", "payload.items[" + "1" * 5000 + "]"])
def test_an_overlong_path_or_index_is_a_clear_refusal(path):
    with pytest.raises(matching.ConditionError, match="path"):
        matching.validate([{"path": path, "op": "exists"}])
    assert paths.resolve(EVENT, path) is paths.MISSING


def test_a_refused_pattern_stored_earlier_is_explained():
    condition = {"path": "name", "op": "regex", "value": r"(H)\1"}
    matched, reason = matching.evaluate([condition], EVENT)
    assert not matched
    assert reason.startswith(r"the pattern '(H)\\1' never matches: invalid regex") and "edit the binding" in reason
