"""Django's admin is gone: its saves would change users and roles without
the domain functions and their audit entries. The pages and the API do it."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/admin/", "/admin/auth/user/", "/admin/login/"])
def test_admin_pages_are_404_even_for_a_superuser(client, path):
    superuser = get_user_model().objects.create_superuser("root", password="pw-root-123456")
    client.force_login(superuser)
    assert client.get(path).status_code == 404
    assert client.post(path, {"is_superuser": "on"}).status_code == 404


def test_the_admin_app_is_not_installed():
    assert "django.contrib.admin" not in settings.INSTALLED_APPS
