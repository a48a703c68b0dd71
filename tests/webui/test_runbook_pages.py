"""Runbook pages: authoring (upload, validation), the Run form generated
from the schema, versions, diff, restore, rerun; HTML always escaped, no
inline script or style."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from audit import trail
from audit.models import AuditEntry
from runbooks import runs, versions
from runbooks.models import Execution, Runbook
from tests.factories import make_runbook

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "description": "The <b>host</b> to fix"},
        "retries": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
        "ratio": {"type": "number"},
        "dry_run": {"type": "boolean", "default": True},
        "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["host"],
}


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def form_data(**overrides):
    data = {
        "name": "Fix host",
        "description": "",
        "team": "",
        "tags": "",
        "kind": "python",
        "script": "print('hi')",
        "parameters": "{}",
        "timeout_seconds": 30,
        "queue": "",
        "secrets": "",
        "message": "",
    }
    data.update(overrides)
    return data


def labels_ok(html: str) -> None:
    for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{field_id}"' in html, f"#{field_id} has no label"


def no_inline_script_or_style(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
    assert "<style" not in html


def test_an_uploaded_script_sets_the_script_and_its_kind(logged_in):
    upload = SimpleUploadedFile("cleanup.sh", b"#!/bin/bash\necho cleaning\n")
    response = logged_in.post("/runbooks/new/", form_data(kind="python", script="", script_file=upload))
    assert response.status_code == 302
    version = Runbook.objects.get().current_version
    assert version.kind == "shell" and version.script == "#!/bin/bash\necho cleaning\n"


@pytest.mark.parametrize(
    "name,content,problem",
    [
        ("notes.txt", b"echo hi", "Upload a .py or .sh file"),
        ("binary.py", b"\xff\xfe\x00", "not UTF-8"),
        ("big.py", b"x" * 2048, "the limit is 1024"),
    ],
)
@override_settings(STEWARD_RUNBOOK_UPLOAD_MAX_BYTES=1024)
def test_a_bad_upload_is_a_field_error(logged_in, name, content, problem):
    response = logged_in.post("/runbooks/new/", form_data(script="", script_file=SimpleUploadedFile(name, content)))
    assert response.status_code == 200 and problem in response.content.decode()
    assert not Runbook.objects.exists()


@pytest.mark.parametrize(
    "overrides,problem",
    [
        ({"script": ""}, "Write a script or upload one"),
        ({"parameters": '{"type": "array"}'}, "type"),
        ({"parameters": '{"properties": {"a-b": {}, "a_b": {}}}'}, "both become PARAM_A_B"),
        ({"secrets": "lower"}, "secret names match"),
        ({"queue": "Not A Queue"}, "queue names"),
        ({"timeout_seconds": "0"}, "greater than or equal to 1"),
        ({"tags": "x" * 60}, "no more than 50 characters"),
    ],
)
def test_invalid_runbooks_show_field_errors_and_save_nothing(logged_in, overrides, problem):
    response = logged_in.post("/runbooks/new/", form_data(**overrides))
    assert response.status_code == 200 and problem in response.content.decode()
    assert not Runbook.objects.exists()


def test_the_new_runbook_form_has_the_editor_and_no_inline_script(logged_in):
    html = logged_in.get("/runbooks/new/").content.decode()
    assert 'enctype="multipart/form-data"' in html and 'data-editor="script"' in html
    assert "vendor/codemirror-6.min.js" in html and "webui/editor.js" in html
    labels_ok(html)
    no_inline_script_or_style(html)


def test_edit_makes_a_version_only_when_the_code_changes(logged_in, user):
    runbook = make_runbook(slug="fix", script="print('v1')")
    page = logged_in.get("/runbooks/fix/edit/")
    assert page.status_code == 200 and "print(&#x27;v1&#x27;)" in page.content.decode()
    logged_in.post("/runbooks/fix/edit/", form_data(name="Fix", script="print('v1')", team="ops", tags="a, b"))
    runbook.refresh_from_db()
    assert runbook.current_version.number == 1 and runbook.team == "ops" and runbook.tags == ["a", "b"]
    logged_in.post("/runbooks/fix/edit/", form_data(name="Fix", script="print('v2')", message="Say v2"))
    runbook.refresh_from_db()
    version = runbook.current_version
    assert version.number == 2 and version.message == "Say v2" and version.author == user


def test_saving_the_form_as_a_browser_sends_it_keeps_the_script(logged_in):
    """Browsers send a textarea with CRLF line ends: an unchanged script makes no version."""
    runbook = make_runbook(slug="fix", kind="shell", script="#!/bin/sh\nif true; then\n  echo ok\nfi\n")
    logged_in.post(
        "/runbooks/fix/edit/",
        form_data(name="Fix", kind="shell", script="#!/bin/sh\r\nif true; then\r\n  echo ok\r\nfi\r\n", team="ops"),
    )
    runbook.refresh_from_db()
    assert runbook.team == "ops" and runbook.current_version.number == 1
    upload = SimpleUploadedFile("win.sh", b"#!/bin/sh\r\necho from windows\r\n")
    logged_in.post("/runbooks/fix/edit/", form_data(name="Fix", script="", script_file=upload))
    runbook.refresh_from_db()
    assert runbook.current_version.script == "#!/bin/sh\necho from windows\n"


def test_the_run_form_is_generated_from_the_schema(logged_in):
    make_runbook(slug="fix", parameters=SCHEMA)
    html = logged_in.get("/runbooks/fix/").content.decode()
    labels_ok(html)
    no_inline_script_or_style(html)
    assert re.search(r'<input type="text" name="param_0"[^>]*required', html)
    # Required parameters first, then the others by name (jsonb keeps no key order).
    assert re.search(r'<input type="checkbox" name="param_1"[^>]*checked', html)  # dry_run
    assert re.search(r'<select name="param_2"', html) and '<option value="&quot;safe&quot;" selected>' in html
    assert re.search(r'<input type="number" name="param_3"[^>]*step="any"', html)  # ratio
    assert re.search(r'<input type="number" name="param_4" value="2"[^>]*min="1" max="5"', html)  # retries
    assert 'name="param_5"' in html and "tags (JSON)" in html
    assert "The &lt;b&gt;host&lt;/b&gt; to fix" in html  # the description as help text, escaped


def test_the_run_form_validates_like_the_api_and_runs(logged_in):
    make_runbook(slug="fix", parameters=SCHEMA)
    missing = logged_in.post("/runbooks/fix/", {"param_4": "9", "param_3": "abc"})
    html = missing.content.decode()
    assert missing.status_code == 200 and not Execution.objects.exists()
    assert "This field is required" in html and "less than or equal to 5" in html and "Enter a number" in html
    bad_json = logged_in.post("/runbooks/fix/", {"param_0": "web-1", "param_5": "[1, 2"})
    assert bad_json.status_code == 200 and "Not valid JSON" in bad_json.content.decode()
    wrong_items = logged_in.post("/runbooks/fix/", {"param_0": "web-1", "param_5": "[1, 2]"})
    assert wrong_items.status_code == 200 and "is not of type" in wrong_items.content.decode()
    ran = logged_in.post("/runbooks/fix/", {"param_0": "web-1", "param_3": "0.5", "param_2": '"fast"'})
    execution = Execution.objects.get()
    assert ran["Location"] == f"/executions/{execution.pk}/"
    # An unchecked box is false; left-empty fields take the schema's defaults.
    assert execution.parameters == {"host": "web-1", "retries": 2, "ratio": 0.5, "dry_run": False, "mode": "fast"}


def test_description_markdown_is_sanitized(logged_in):
    runbook = make_runbook(slug="md")
    runbook.description = "**Bold** <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>"
    runbook.save()
    html = logged_in.get("/runbooks/md/").content.decode()
    assert "<strong>Bold</strong>" in html
    assert "<script>alert(1)" not in html and "javascript:" not in html and "onerror" not in html


def test_versions_page_is_bounded_in_queries(logged_in, django_assert_max_num_queries):
    runbook = make_runbook(slug="many", script="print(0)")
    for n in range(1, 30):
        versions.save_runbook(runbook, {"script": f"print({n})"}, trail.SYSTEM, message=f"change {n}")
    with django_assert_max_num_queries(8):
        response = logged_in.get("/runbooks/many/versions/")
    html = response.content.decode()
    assert response.status_code == 200 and "v30" in html and "change 29" in html
    labels_ok(html)
    no_inline_script_or_style(html)


def test_diff_shows_both_versions_side_by_side_escaped(logged_in):
    runbook = make_runbook(slug="d", script="line one\n<b>two</b>\nline three\n", kind="shell")
    versions.save_runbook(runbook, {"script": "line one\n<i>2</i>\nline three\nline four\n"}, trail.SYSTEM)
    response = logged_in.get("/runbooks/d/diff/?from=1&to=2")
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;b&gt;two&lt;/b&gt;" in html and "&lt;i&gt;2&lt;/i&gt;" in html and "<b>two</b>" not in html
    assert 'class="diff-replace"' in html and 'class="diff-insert"' in html
    assert "The parameters schema did not change." in html
    labels_ok(html)
    no_inline_script_or_style(html)
    # The default compares the current version with the one before it.
    assert "v1 → v2" in logged_in.get("/runbooks/d/diff/").content.decode()


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?from=1&to=9", "has versions 1 to 1."),
        ("?from=x&to=1", "Version numbers are whole numbers."),
        ("?from=-1", "has versions 1 to 1."),
        ("?from=99999999999999999999&to=1", "has versions 1 to 1."),
    ],
)
def test_a_bad_diff_request_is_a_400_page(logged_in, query, says):
    make_runbook(slug="d")
    response = logged_in.get(f"/runbooks/d/diff/{query}")
    assert response.status_code == 400 and says in response.content.decode()


def test_restore_an_old_version_from_its_page(logged_in):
    runbook = make_runbook(slug="r", script="print('old')")
    versions.save_runbook(runbook, {"script": "print('new')"}, trail.SYSTEM)
    page = logged_in.get("/runbooks/r/versions/1/").content.decode()
    assert "Restore as a new version" in page
    response = logged_in.post("/runbooks/r/versions/1/restore")
    runbook.refresh_from_db()
    assert response.status_code == 302 and runbook.current_version.number == 3
    assert runbook.current_version.script == "print('old')" and runbook.current_version.message == "Restored v1"
    assert AuditEntry.objects.filter(action="runbook.updated", actor="oncall").exists()
    assert logged_in.get("/runbooks/r/versions/1/restore").status_code == 405
    assert logged_in.get("/runbooks/r/versions/7/").status_code == 404


def test_rerun_from_the_execution_page(logged_in):
    runbook = make_runbook(slug="again")
    first = runs.request_run(runbook, {}, None, trail.SYSTEM)
    Execution.objects.filter(pk=first.pk).update(status="failed")
    page = logged_in.get(f"/executions/{first.pk}/").content.decode()
    assert "Run again" in page
    response = logged_in.post(f"/executions/{first.pk}/rerun")
    again = Execution.objects.exclude(pk=first.pk).get()
    assert response["Location"] == f"/executions/{again.pk}/" and again.rerun_of_id == first.pk
    assert "Rerun of" in logged_in.get(f"/executions/{again.pk}/").content.decode()


def test_missing_secrets_are_flagged_on_the_runbook_page(logged_in):
    runbook = make_runbook(slug="s")
    versions.save_runbook(runbook, {"secrets": ["API_TOKEN"]}, trail.SYSTEM)
    html = logged_in.get("/runbooks/s/").content.decode()
    assert "Runs will fail until these secrets exist" in html and "API_TOKEN" in html


def test_runbook_list_filters_by_tag_and_team(logged_in):
    a = make_runbook(name="A", slug="a")
    b = make_runbook(name="B", slug="b")
    Runbook.objects.filter(pk=a.pk).update(tags=["disk", "linux"], team="storage")
    Runbook.objects.filter(pk=b.pk).update(tags=["network"], team="net")
    by_tag = logged_in.get("/runbooks/?tag=disk").content.decode()
    assert "/runbooks/a/" in by_tag and "/runbooks/b/" not in by_tag
    by_team = logged_in.get("/runbooks/?team=net").content.decode()
    assert "/runbooks/b/" in by_team and "/runbooks/a/" not in by_team


@pytest.mark.parametrize("path", ["/runbooks/x/edit/", "/runbooks/x/versions/", "/runbooks/x/diff/", "/secrets/"])
def test_new_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
