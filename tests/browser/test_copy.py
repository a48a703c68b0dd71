"""The source page's Copy buttons in headless Chromium: what lands on the
clipboard is what the page shows, the button says so, and where the
Clipboard API is missing the text is selected instead. All of it, and the
binding form, under the Content-Security-Policy."""

import re

import pytest

from tests.browser.conftest import log_in
from tests.factories import make_binding, make_runbook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("admin", "a@example.invalid", PASSWORD)


def watch_csp(page) -> list:
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


def create_source(page, base: str, name: str = "Prometheus") -> None:
    page.goto(f"{base}/sources/new/")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Kind").select_option("alertmanager")
    page.get_by_role("button", name="Create source").click()
    page.get_by_role("heading", name=name).wait_for()


def copied_next_to(page, button_name: str):
    button = page.get_by_role("button", name=button_name)
    return button.locator("xpath=following-sibling::*[@role='status']")


def test_copy_buttons_put_the_token_url_and_snippet_on_the_clipboard(page, live_server, admin):
    refused = watch_csp(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server.url, "admin", PASSWORD)
    create_source(page, live_server.url)

    shown = {
        "Copy the token": page.locator("#token").inner_text(),
        "Copy the webhook URL": page.locator("#webhook-url").inner_text(),
        "Copy the snippet": page.get_by_label("alertmanager.yml").inner_text(),
    }
    assert shown["Copy the token"].startswith("sts_")
    for name, text in shown.items():
        page.get_by_role("button", name=name).click()
        copied_next_to(page, name).filter(has_text="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == text
    assert f"credentials: {shown['Copy the token']}" in shown["Copy the snippet"]
    # The live server is at localhost, STEWARD_BASE_URL at 127.0.0.1:8000: the page says so.
    warning = page.get_by_role("note").inner_text()
    assert re.search(r"localhost:\d+", warning) and "127.0.0.1:8000" in warning and "STEWARD_BASE_URL" in warning
    assert refused == []


def test_without_the_clipboard_api_the_text_is_selected_for_ctrl_c(page, live_server, admin):
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    log_in(page, live_server.url, "admin", PASSWORD)
    create_source(page, live_server.url)
    token = page.locator("#token").inner_text()
    page.get_by_role("button", name="Copy the token").click()
    status = copied_next_to(page, "Copy the token")
    status.filter(has_text=re.compile("Copied|press Ctrl\\+C")).wait_for()
    assert page.evaluate("window.getSelection().toString()") == token


def test_the_binding_form_and_the_source_page_keep_to_the_content_security_policy(page, live_server, admin):
    refused = watch_csp(page)
    binding = make_binding(make_runbook(slug="rb"), None, name="Any")
    log_in(page, live_server.url, "admin", PASSWORD)
    for path in ("/bindings/", "/bindings/new/", f"/bindings/{binding.pk}/edit/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    # A form with errors shows them on the field, in the browser too.
    page.get_by_label("Match conditions (JSON)").fill('[{"path": "labels.env", "op": "equals", "value": "prod"}]')
    page.get_by_role("button", name="Save binding").click()
    page.get_by_role("alert").filter(has_text="Condition 1").wait_for()
    create_source(page, live_server.url)
    page.get_by_role("button", name="Copy the token").wait_for()
    assert refused == []
