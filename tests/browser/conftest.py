"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against the live server.

Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
thread with a running loop unless told it is safe, which it is here (one thread, test data setup).
"""
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # Generous: the first page of a session on a loaded 2-core machine (live server warming up) took over 10 s.
    page.set_default_timeout(30_000)
    # Every page runs under the Content-Security-Policy (prefstudio/settings/security.py): Chromium logs what it
    # blocks ("Refused to execute inline script ... Content Security Policy"); a page that needed it is broken.
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert not blocked, f"the Content-Security-Policy blocked: {blocked}"


@pytest.fixture
def login(page):
    """login(username, password): log in through the real login form."""

    def do(username: str, password: str) -> None:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/")

    return do


@pytest.fixture
def screenshot(page, tmp_path):
    """screenshot(name): save the page as NAME.png — into docs/screenshots/ (shown in the README)
    when PREFSTUDIO_SCREENSHOTS=1 (`make screenshots`), else into the test's tmp dir, so that an
    ordinary test run does not rewrite the checked-in images."""
    folder = SCREENSHOTS if os.environ.get("PREFSTUDIO_SCREENSHOTS") == "1" else tmp_path

    def do(name: str, *, full_page: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        size = page.viewport_size
        # A full-page capture keeps the window's height, so the task pages' sticky verdict bar would be drawn
        # over the middle of the page: make the window as tall as the page for the picture.
        tall = full_page and page.locator("#verdict-bar").count() > 0
        if tall:
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        try:
            page.screenshot(path=str(path), full_page=full_page)
        finally:
            if tall:
                page.set_viewport_size(size)
        return path

    return do
