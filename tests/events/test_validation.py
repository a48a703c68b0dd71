"""The binding rules are one set of plain functions: every problem is named
with its field at once, whoever calls them (API, page, services)."""

import pytest

from core import errors
from core.errors import Refused
from events import validation
from tests.factories import make_runbook

pytestmark = pytest.mark.django_db


def test_every_broken_rule_is_named_with_its_field_at_once():
    with pytest.raises(Refused) as refused:
        validation.binding(
            {
                "name": "",
                "match": [{"path": "labels.env", "op": "equals", "value": "prod"}],
                "parameters": {"host": "{{ event.labels.instance "},
                "dedup_window_seconds": 10**9,
                "breaker_window_minutes": 0,
            }
        )
    fields = refused.value.by_field()
    assert set(fields) == {"name", "match", "parameters", "dedup_window_seconds", "breaker_window_minutes"}
    assert "op 'equals'" in fields["match"][0]
    assert errors.status_of(refused.value) == 400


def test_a_valid_binding_passes_unchanged():
    fields = {"name": "drain", "runbook": make_runbook(slug="drain"), "match": [], "parameters": {"h": "{{ 1 }}"}}
    assert validation.binding(fields) is fields


def test_a_refusal_kind_maps_to_one_status():
    assert errors.status_of(Refused("taken", "name", kind=errors.CONFLICT)) == 409
    assert errors.status_of(Refused("admins only", kind=errors.FORBIDDEN)) == 403
    with pytest.raises(ValueError):
        Refused("x", kind="teapot")
