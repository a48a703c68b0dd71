"""The contract's rules for conditions, each with inputs that tell the right
rule from its near miss: `gt gte lt lte` compare as numbers (so 100 > 9,
which as text it is not), a non-number never matches, the boundaries are
where the operator says; `regex`/`iregex` search anywhere, anchored only by
the pattern's own `^…$`."""

import pytest

from events import matching


def holds(op, actual, value):
    return matching.holds({"path": "labels.v", "op": op, "value": value}, {"labels": {"v": actual}})


@pytest.mark.parametrize(
    ("op", "actual", "value", "expected"),
    [
        # As text "100" < "9" and "10" < "9": these fail if the sides are compared as strings.
        ("gt", 100, 9, True),
        ("gt", "100", 9, True),
        ("gt", 100, "9", True),
        ("gt", "100", "9", True),
        ("lt", 9, 100, True),
        ("lt", "9", "100", True),
        ("gte", "10", 9, True),
        ("lte", "10", 9, False),
        ("lt", "1e3", 999, False),  # a number written as text still reads as a number
        ("gt", "-5", -10, True),
        ("gt", 2.5, 2, True),
        # The boundaries: equal holds for gte/lte only.
        ("gt", 90, 90, False),
        ("gte", 90, 90, True),
        ("lt", 90, 90, False),
        ("lte", 90, 90, True),
        ("gte", "90.0", 90, True),
        ("lte", 90, "90.0", True),
        # A non-number never matches, on either side, whatever the operator.
        ("gt", "abc", 1, False),
        ("lt", "abc", 1, False),
        ("gte", "", 0, False),
        ("lte", None, 0, False),
        ("lte", True, 1, False),  # a boolean is not a number
        ("gte", [5], 1, False),
        ("gt", 5, "abc", False),
    ],
)
def test_ordering_operators_compare_as_numbers(op, actual, value, expected):
    assert holds(op, actual, value) is expected


@pytest.mark.parametrize(
    ("op", "actual", "pattern", "expected"),
    [
        ("regex", "Disk 95% full on web-01", "web-0[1-3]", True),  # found in the middle
        ("regex", "Disk 95% full on web-01", "full", True),
        ("regex", "Disk 95% full", "^full", False),  # the pattern's own anchor binds
        ("regex", "Disk 95% full", "Disk$", False),
        ("regex", "Disk 95% full", "^Disk 95% full$", True),
        ("regex", "prefix web-01", "^web-01$", False),
        ("iregex", "Disk 95% FULL", "full", True),
        ("iregex", "Disk 95% full", "^FULL", False),
        ("regex", 12345, "234", True),  # a number is searched as its text
    ],
)
def test_regex_searches_anywhere_unless_the_pattern_anchors(op, actual, pattern, expected):
    assert holds(op, actual, pattern) is expected
