"""The OpenAPI schema and its docs page, served without any CDN."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_schema_describes_every_resource_and_the_token_scheme(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/runbooks/",
        "/api/v1/runbooks/{slug}/run/",
        "/api/v1/executions/{id}/log/",
        "/api/v1/sources/",
        "/api/v1/bindings/test/",
        "/api/v1/events/",
        "/api/v1/schedules/",
        "/api/v1/audit/verify/",
    ):
        assert any(p.rstrip("/") == path.rstrip("/") or p.startswith(path.rstrip("/")) for p in paths), path
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"


def test_the_schema_needs_authentication(client):
    assert client.get("/api/schema/").status_code == 401


def test_the_docs_page_loads_its_assets_from_steward_itself(client, user):
    client.force_login(user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") or s.startswith("?") for s in sources), sources
    assert "<script>" not in html.replace("<script ", "")  # no inline script: the initializer is a file
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
