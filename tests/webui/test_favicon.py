"""Every page's icon: linked from the base template and answered at
/favicon.ico, so no browser logs a 404 for it on any page."""

import re

import pytest

from webui.icons import ICON

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_served_directly_to_anyone(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = response.content
    assert body == ICON.read_bytes() and body[:4] == b"\0\0\1\0"  # an icon resource, not a page
    assert "max-age" in response["Cache-Control"]
    assert client.head("/favicon.ico").status_code == 200
    assert client.post("/favicon.ico").status_code == 405


def _icons_linked_from(client, url):
    html = client.get(url).content.decode()
    return re.findall(r'<link rel="icon" href="([^"]+)"', html)


def test_every_page_links_icons_that_load(client, user):
    pages = {"/accounts/login/": _icons_linked_from(client, "/accounts/login/")}
    client.force_login(user)
    pages |= {url: _icons_linked_from(client, url) for url in ("/", "/runbooks/", "/executions/")}
    for url, links in pages.items():
        assert len(links) == 2, url
        for href in links:
            icon = client.get(href)
            assert icon.status_code == 200, href
            served = b"".join(icon.streaming_content) if icon.streaming else icon.content
            assert served.startswith(b"<svg") if href.endswith(".svg") else served[:4] == b"\0\0\1\0"
