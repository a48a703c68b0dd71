"""The runbook rules are plain functions that the API, the form and the
importer share: every problem at once, each with its field."""

import pytest

from core import errors
from runbooks import validation

pytestmark = pytest.mark.django_db


def test_a_runbook_breaking_several_rules_hears_of_each_with_its_field():
    with pytest.raises(validation.Refused) as refused:
        validation.runbook(
            {
                "name": "",
                "kind": "cobol",
                "script": "echo hi",
                "timeout_seconds": 0,
                "queue": "Not A Queue",
                "tags": ["ok", 7],
                "max_attempts": "three",
            }
        )
    assert set(refused.value.by_field()) == {"name", "kind", "timeout_seconds", "tags", "max_attempts"}
    assert errors.status_of(refused.value) == 400


def test_the_field_rules_run_once_the_types_hold():
    with pytest.raises(validation.Refused) as refused:
        validation.runbook({"name": "x", "kind": "shell", "script": "true", "queue": "Bad Queue", "secrets": ["lower"]})
    assert set(refused.value.by_field()) == {"queue", "secrets"}


def test_only_an_admin_may_set_host_network_and_the_refusal_is_a_403():
    with pytest.raises(validation.Refused) as refused:
        validation.runbook({"name": "x", "kind": "shell", "script": "true", "network": "host"})
    assert refused.value.field == "network" and errors.status_of(refused.value) == 403


def test_a_valid_runbook_gets_the_defaults_of_what_it_left_out():
    cleaned = validation.runbook({"name": " Disk check ", "kind": "shell", "script": "df -h"})
    assert cleaned["name"] == "Disk check" and cleaned["timeout_seconds"] == 300 and cleaned["secrets"] == []
