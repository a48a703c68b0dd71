"""Roles as an admin hands them out: who may do what, what a refusal says,
and that changing a role takes effect at once.

Written for the mutants `make mutate` found in accounts/roles.py and
accounts/permissions.py.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from rest_framework.test import APIRequestFactory

from accounts import roles
from accounts.permissions import RolePermission, required_action

pytestmark = pytest.mark.django_db


def user(role, name=None, **fields):
    person = get_user_model().objects.create_user(name or f"u-{role}", **fields)
    roles.set_role(person, role)
    return get_user_model().objects.get(pk=person.pk)  # a fresh object: nothing cached


@pytest.mark.parametrize("role", roles.ROLES)
def test_each_role_may_exactly_the_actions_of_its_level_and_below(role):
    person = user(role)
    level = roles.ROLES.index(role)
    for action, needed in roles.ACTIONS.items():
        assert roles.may(person, action) is (roles.ROLES.index(needed) <= level), (role, action)


def test_no_role_no_user_an_anonymous_or_an_inactive_user_may_nothing():
    assert roles.role_of(None) is None
    assert roles.role_of(AnonymousUser()) is None
    assert roles.role_of(user(None, "nobody")) is None
    assert roles.role_of(user(roles.ADMIN, "gone", is_active=False)) is None
    assert not roles.may(user(None, "nobody2"), "read")


def test_a_superuser_is_an_admin_without_a_group():
    boss = get_user_model().objects.create_superuser("boss")
    assert roles.role_of(boss) == roles.ADMIN


def test_the_highest_of_several_groups_counts():
    assert roles.highest(["viewer", "author", "other"]) == roles.AUTHOR
    assert roles.highest(["other"]) is None
    assert roles.highest([]) is None


def test_a_role_is_read_once_per_user_object(django_assert_num_queries):
    person = user(roles.RESPONDER)
    with django_assert_num_queries(1):
        assert roles.role_of(person) == roles.RESPONDER
        assert roles.role_of(person) == roles.RESPONDER


def test_a_user_without_a_role_is_remembered_as_none_too(django_assert_num_queries):
    person = user(None, "nobody3")
    with django_assert_num_queries(1):
        assert roles.role_of(person) is None
        assert roles.role_of(person) is None


def test_setting_a_role_replaces_the_old_one_and_takes_effect_at_once():
    person = user(roles.ADMIN, "changing")
    assert roles.role_of(person) == roles.ADMIN
    roles.set_role(person, roles.VIEWER)
    assert roles.role_of(person) == roles.VIEWER
    assert list(person.groups.values_list("name", flat=True)) == [roles.VIEWER]
    roles.set_role(person, None)
    assert roles.role_of(person) is None and not person.groups.exists()


def test_setting_a_role_keeps_groups_that_are_not_roles():
    person = user(roles.AUTHOR, "grouped")
    person.groups.add(Group.objects.create(name="oncall-eu"))
    roles.set_role(person, roles.VIEWER)
    assert set(person.groups.values_list("name", flat=True)) == {"oncall-eu", roles.VIEWER}


def test_an_unknown_role_is_refused():
    person = user(None, "typo")
    with pytest.raises(ValueError, match="unknown role 'root'"):
        roles.set_role(person, "root")


def test_a_refusal_names_the_role_the_action_and_the_role_it_needs():
    assert roles.refusal(user(roles.VIEWER), "run") == (
        "Your role (viewer) may not run runbooks; that needs the responder role."
    )
    assert roles.refusal(user(None, "nobody4"), "read") == roles.NO_ROLE


class View:
    def __init__(self, action=None, role_actions=None):
        self.action = action
        if role_actions is not None:
            self.role_actions = role_actions


def test_reads_need_read_mapped_writes_their_action_and_unmapped_writes_an_admin():
    factory = APIRequestFactory()
    for method in ("get", "head", "options"):
        assert required_action(getattr(factory, method)("/"), View("create", {"create": "run"})) == "read"
    assert required_action(factory.post("/"), View("create", {"create": "run"})) == "run"
    assert required_action(factory.post("/"), View("destroy", {"create": "run"})) == "manage_users"
    assert required_action(factory.delete("/"), View("destroy")) == "manage_users"


def test_the_permission_says_why_it_refuses():
    factory = APIRequestFactory()
    request = factory.post("/")
    request.user = user(roles.VIEWER, "viewer-p")
    permission = RolePermission()
    assert permission.has_permission(request, View("create", {"create": "run"})) is False
    assert permission.message == "Your role (viewer) may not run runbooks; that needs the responder role."
    request.user = user(roles.RESPONDER, "responder-p")
    assert RolePermission().has_permission(request, View("create", {"create": "run"})) is True
    request.user = AnonymousUser()
    assert RolePermission().has_permission(request, View("create", {"create": "run"})) is False
