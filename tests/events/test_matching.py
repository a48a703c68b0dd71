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
