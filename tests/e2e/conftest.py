"""Headless Chromium (Debian's package) driven by Playwright against the real test server.

Every page a test visits can be checked with axe-core (vendored in
`assets/axe.min.js`) and saved as a screenshot under `test-artifacts/e2e/`.
Pages are also watched for Content-Security-Policy violations and script
errors: the pages ship no inline code, so any such report is a bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from tests.web.conftest import PASSWORD, WebCompany, make_company  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_SOURCE = (Path(__file__).parent / "assets" / "axe.min.js").read_text(encoding="utf-8")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
BLOCKING_IMPACTS = {"serious", "critical"}
EXPECTED_REFUSAL = "Failed to load resource: the server responded with a status of 4"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """A browser tab with the checks every e2e test wants."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        # A 4xx answer (a refused password, a stale edit) is part of a test; CSP reports,
        # script errors and failing assets are not.
        if message.type == "error" and not message.text.startswith(EXPECTED_REFUSAL):
            self.problems.append(f"{message.text} @ {message.location}")

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.open("/sign-in")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/customers")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check_accessibility(self, name: str) -> None:
        """axe-core over the current page: no serious or critical violations."""
        self.page.evaluate(AXE_SOURCE)
        result = self.page.evaluate("async () => await axe.run(document)")
        blocking = [
            f"{violation['id']} ({violation['impact']}): "
            + "; ".join(node["target"][0] for node in violation["nodes"][:3])
            for violation in result["violations"]
            if violation["impact"] in BLOCKING_IMPACTS
        ]
        assert not blocking, f"{name}: {blocking}"
        self.screenshot(name)


def _tab(chromium: Browser, base_url: str, **options: object) -> Iterator[Tab]:
    context = chromium.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    tab = Tab(context.new_page(), base_url)
    yield tab
    context.close()
    assert not tab.problems, tab.problems


@pytest.fixture
def tab(chromium: Browser, base_url: str) -> Iterator[Tab]:
    """A desktop-sized tab in a fresh browser profile."""
    yield from _tab(chromium, base_url, viewport={"width": 1280, "height": 900})


@pytest.fixture
def second_tab(chromium: Browser, base_url: str) -> Iterator[Tab]:
    """Another person's browser (its own cookies), for conflicts."""
    yield from _tab(chromium, base_url, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone_tab(chromium: Browser, base_url: str) -> Iterator[Tab]:
    """A 375 px wide phone."""
    yield from _tab(
        chromium,
        base_url,
        viewport={"width": 375, "height": 812},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )


@pytest.fixture
def company(make_company) -> WebCompany:  # noqa: F811
    return make_company()
