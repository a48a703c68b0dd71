"""In headless Chromium: write a runbook by uploading a script, run it
through the form generated from its parameters, and compare two versions."""

import json

import pytest

from audit import trail
from runbooks import versions
from runbooks.models import Runbook
from tests.factories import make_runbook, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SCRIPT = """\
import json, os
params = json.load(open(os.environ["STEWARD_PARAMS"]))
print(f"hello {params['name']} x{params['times']} {params['color']} loud={params['loud']}")
"""

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Who to greet"},
        "times": {"type": "integer", "minimum": 1, "default": 1},
        "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
        "loud": {"type": "boolean", "default": False},
    },
    "required": ["name"],
}


def log_in(page, live_server, django_user_model, path):
    make_user("author", username="author")
    page.goto(f"{live_server.url}{path}")
    page.get_by_label("Username").fill("author")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{path}")


@pytest.mark.worker
def test_upload_a_script_then_run_it_from_the_generated_form(
    page,
    live_server,
    worker,
    django_user_model,
    tmp_path,
):
    script = tmp_path / "greet.py"
    script.write_text(SCRIPT)
    log_in(page, live_server, django_user_model, "/runbooks/new/")

    # The script textarea became a code editor with line numbers.
    editors = page.locator(".cm-editor")
    editors.first.wait_for()
    assert page.locator("#id_script").is_hidden() and page.locator(".cm-lineNumbers").count() >= 1

    page.get_by_label("Name", exact=True).fill("Greet")
    page.get_by_label("Upload a script (.py or .sh)").set_input_files(str(script))
    # The editor shows the uploaded file, and the kind follows its extension.
    editors.first.get_by_text("hello {params['name']}", exact=False).wait_for()
    assert page.get_by_label("Kind").input_value() == "python"
    page.locator(".cm-content").nth(1).fill(json.dumps(SCHEMA))
    page.get_by_role("button", name="Save runbook").click()
    page.wait_for_url("**/runbooks/greet/")
    assert Runbook.objects.get(slug="greet").current_version.script == SCRIPT

    page.get_by_label("name", exact=True).fill("world")
    page.get_by_label("times", exact=True).fill("3")
    page.get_by_label("color", exact=True).select_option(label="blue")
    page.get_by_label("loud", exact=True).check()
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/executions/*/")
    page.get_by_role("log").get_by_text("hello world x3 blue loud=True").wait_for()
    page.locator(".status", has_text="succeeded").first.wait_for()


def test_open_the_diff_between_two_versions(page, live_server, django_user_model):
    runbook = make_runbook(name="Diffed", slug="diffed", script="echo one\necho two\necho three\n", kind="shell")
    versions.save_runbook(runbook, {"script": "echo one\necho TWO\necho three\necho four\n"}, trail.SYSTEM)
    log_in(page, live_server, django_user_model, "/runbooks/diffed/versions/")
    page.get_by_label("From version").select_option(label="v1")
    page.get_by_label("to version").select_option(label="v2")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/runbooks/diffed/diff/?from=1&to=2")
    changed = page.locator("table.diff tr.diff-replace")
    assert "echo two" in changed.first.inner_text() and "echo TWO" in changed.first.inner_text()
    assert "echo four" in page.locator("table.diff tr.diff-insert").first.inner_text()
    assert page.get_by_role("heading", name="Diffed v1 → v2").is_visible()
