"""Binding conditions, as an author meets them: the message a refused
condition gives, and what each operator and explanation says.

Written for the mutants `make mutate` found surviving in events/matching.py;
each test states behaviour a user relies on, not the mutant.
"""

import pytest

from events import matching

DOC = {"name": "DiskFull", "labels": {"env": "prod", "count": "7"}, "payload": {"n": 5, "text": "abc"}}


def refusal(conditions) -> str:
    with pytest.raises(matching.ConditionError) as caught:
        matching.validate(conditions)
    return str(caught.value)


def test_a_match_that_is_not_a_list_is_refused_in_words():
    assert refusal({"path": "name"}) == "match must be a list of conditions"


def test_a_value_that_cannot_be_stored_is_refused_naming_the_match():
    message = refusal([{"path": "name", "op": "eq", "value": "a\x00b"}])
    assert message.startswith("match holds a NUL character")


def test_an_any_group_inside_an_any_group_is_refused_in_words():
    message = refusal([{"any": [{"any": [{"path": "name", "op": "exists"}]}]}])
    assert message == "match[0].any cannot nest another any group"


def test_a_condition_after_an_any_group_is_still_checked():
    message = refusal([{"any": [{"path": "name", "op": "exists"}]}, {"path": "name", "op": "bogus", "value": 1}])
    assert message.startswith("match[1].op 'bogus' is not one of ")


def test_a_condition_after_an_exists_is_still_checked():
    message = refusal([{"path": "name", "op": "exists"}, {"path": "name", "op": "in", "value": "x"}])
    assert message == "match[1]: in takes a list"


def test_an_unknown_operator_lists_every_operator_separated_by_commas():
    message = refusal([{"path": "name", "op": "bogus", "value": 1}])
    ops = sorted([*matching.OPS, *matching.NO_VALUE_OPS])
    assert message == f"match[0].op 'bogus' is not one of {', '.join(ops)}"


@pytest.mark.parametrize("op", ["in", "not_in"])
def test_in_and_not_in_take_a_list(op):
    assert refusal([{"path": "name", "op": op, "value": "prod"}]) == f"match[0]: {op} takes a list"


@pytest.mark.parametrize("op", ["regex", "iregex", "glob"])
def test_pattern_operators_take_a_string(op):
    assert refusal([{"path": "name", "op": op, "value": 5}]) == f"match[0]: {op} takes a string"


def test_a_pattern_of_exactly_the_limit_is_accepted_one_more_is_refused():
    matching.validate([{"path": "name", "op": "regex", "value": "a" * matching.MAX_PATTERN}])
    message = refusal([{"path": "name", "op": "iregex", "value": "a" * (matching.MAX_PATTERN + 1)}])
    assert message == f"match[0]: the pattern is longer than {matching.MAX_PATTERN} characters"


def test_exists_holds_for_a_present_path_and_not_exists_does_not():
    assert matching.holds({"path": "labels.env", "op": "exists"}, DOC) is True
    assert matching.holds({"path": "labels.env", "op": "not_exists"}, DOC) is False
    assert matching.holds({"path": "labels.none", "op": "not_exists"}, DOC) is True
    assert matching.evaluate([{"path": "labels.env", "op": "exists"}], DOC) == (True, "all conditions hold")


def test_a_match_that_holds_says_so():
    assert matching.evaluate([{"path": "labels.env", "op": "eq", "value": "prod"}], DOC) == (
        True,
        "all conditions hold",
    )


def test_a_number_stored_as_text_compares_as_a_number():
    # labels are strings; gt/lt on them compare numerically, both sides
    assert matching.holds({"path": "labels.count", "op": "gt", "value": 6}, DOC) is True
    assert matching.holds({"path": "labels.count", "op": "gt", "value": "8"}, DOC) is False
    assert matching.holds({"path": "payload.n", "op": "lte", "value": 5}, DOC) is True
    assert matching.holds({"path": "payload.n", "op": "lt", "value": 5}, DOC) is False


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
def test_a_comparison_with_a_text_value_explains_it_is_not_a_number(op):
    reason = matching.explain({"path": "payload.text", "op": op, "value": 1}, DOC)
    assert reason == "payload.text is 'abc', which is not a number"


@pytest.mark.parametrize("op", ["regex", "iregex"])
def test_a_stored_pattern_re2_refuses_explains_it_never_matches(op):
    reason = matching.explain({"path": "name", "op": op, "value": "(?=x)"}, DOC)
    assert reason.startswith("the pattern '(?=x)' never matches: invalid regex")
    assert reason.endswith("; edit the binding")


def test_an_iregex_explains_a_miss_with_its_own_phrase():
    reason = matching.explain({"path": "name", "op": "iregex", "value": "^cpu"}, DOC)
    assert reason == "name is 'DiskFull', which does not match the pattern '^cpu' (ignoring case)"


def test_an_operator_without_a_phrase_says_it_does_not_hold():
    assert matching.explain({"path": "name", "op": "exists"}, DOC) == "name does not hold"


def test_a_group_of_alternatives_that_all_fail_lists_each_reason():
    matched, reason = matching.evaluate(
        [{"any": [{"path": "labels.env", "op": "eq", "value": "dev"}, {"path": "nope", "op": "exists"}]}], DOC
    )
    assert matched is False
    assert reason == "none of the alternatives holds: labels.env is 'prod', not 'dev'; nope is missing"


def test_a_stored_condition_whose_value_the_operator_cannot_take_never_matches():
    # saved before validation refused it: no match, never an error for the alert
    assert matching.holds({"path": "name", "op": "in", "value": 5}, DOC) is False
    assert matching.holds({"path": "name", "op": "glob", "value": 5}, DOC) is False
