"""Headless Chromium for the browser tests: Debian's package, driven by
Playwright. A failing browser test leaves a full-page screenshot of every
page it had open in test-artifacts/ (which .ci/run lists), named after the
test: `<test name>.png`, then `<test name>-2.png`, ... for a second user's
page."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.services import chromium_path

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
# The pages a test opened, in order, for the screenshot hook below.
OPEN_PAGES = pytest.StashKey[list]()


@pytest.fixture
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(request, browser):
    """new_page(): a page in a browser context of its own (its own cookies,
    so a second user can be logged in beside the first)."""
    pages = request.node.stash.setdefault(OPEN_PAGES, [])

    def open_page():
        page = browser.new_context().new_page()
        page.set_default_timeout(TIMEOUT_MS)
        pages.append(page)
        return page

    return open_page


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test: screenshot each of its pages while they are
    still open (fixtures close them only after this report)."""
    report = yield
    if report.failed and report.when == "call":
        for path in _screenshots(item):
            report.sections.append(("browser screenshot", path))
    return report


def _screenshots(item) -> list[str]:
    pages = item.stash.get(OPEN_PAGES, [])
    stem = re.sub(r"[^\w.-]+", "_", item.name)
    saved = []
    for i, page in enumerate(pages, start=1):
        path = ARTIFACTS / (f"{stem}.png" if i == 1 else f"{stem}-{i}.png")
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(path), full_page=True, timeout=10_000)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            saved.append(f"{path} not saved: {exc}")
            continue
        saved.append(str(path))
    return saved


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")
