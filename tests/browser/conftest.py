"""Browser tests: Playwright driving Debian's Chromium, headless, against pytest-django's live
server. Screenshots go to var/screenshots/ for review. Skipped when Chromium is missing.

Every browser context (the fixtures' and any a test opens itself) reports Content-Security-Policy
violations, and a test with one fails: the strict policy must hold on every page a journey
walks through."""

import os
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, chromium_launch

# Playwright's sync API runs an event loop in this thread; the Django ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# Violations of the test running now, from every context; `_no_csp_violations` empties it.
CSP_VIOLATIONS: list[str] = []

# Runs in every document before its own scripts: the browser's violation event, reported to
# the test through the binding that `csp_watch` exposes.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"} ` +
    `(${event.sourceFile || event.documentURI}:${event.lineNumber}) ${event.sample || ""}`.trim()
  );
});
"""


def csp_watch(context, sink: list[str] = CSP_VIOLATIONS) -> None:
    """Collect the CSP violations of every page of ``context`` in ``sink``: the
    ``securitypolicyviolation`` event and Chromium's console errors ("Refused to ... because it
    violates the following Content Security Policy directive ...")."""
    context.expose_binding(
        "__cspViolation", lambda source, text: sink.append(f"{source['frame'].url}: {text}")
    )
    context.add_init_script(_CSP_LISTENER)

    def on_console(message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            page_url = message.page.url if message.page else "?"
            sink.append(f"{page_url}: console: {message.text}")

    context.on("console", on_console)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if not Path(CHROMIUM).exists():
                item.add_marker(pytest.mark.skip(reason="Chromium is not installed"))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = chromium_launch(pw)
        new_context = browser.new_context

        def watched_context(*args, **kwargs):
            context = new_context(*args, **kwargs)
            csp_watch(context)
            return context

        # Tests open extra contexts (a second user, another device) with browser.new_context:
        # those are watched too.
        browser.new_context = watched_context
        yield browser
        browser.close()


@pytest.fixture
def csp_violations() -> list[str]:
    """The violations reported so far in this test (a test that expects some clears them)."""
    return CSP_VIOLATIONS


@pytest.fixture(autouse=True)
def _no_csp_violations():
    CSP_VIOLATIONS.clear()
    yield
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    if found:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(found), pytrace=False)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base_url = live_server.url
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, email: str, password: str = "pw-Secret-123") -> None:
    page.goto(page.base_url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    # The page leads with the mobile-number form (its own submit): press the password form's.
    page.click("form[action='/accounts/login/'] button[type=submit]")
