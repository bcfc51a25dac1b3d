"""Browser tests of the website: a real server with the demo network, driven in Debian's
Chromium through Playwright (``executable_path=/usr/bin/chromium``; nothing is downloaded).

Import the fixtures into a test module::

    from tests.browser_helpers import browser, demo_site, page  # noqa: F401

``demo_site`` is one read-only demo node per backend per test session (build it once, never
write to it); ``browser`` one Chromium per session; ``page`` a fresh :class:`CheckedPage`
(its own context, so no login or cache carries over) that records console errors, CSP
violations and failed requests. ``page.open("web/search")`` loads a page, waits until the
network is idle and writes a screenshot to ``build/screenshots/``; ``page.assert_clean()``
fails with everything that went wrong.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from meteorpi_server import MeteorServer
from tests import backends
from tests.conftest import INSTALLATION_ID

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
ADMIN = ("admin", "demo-password")      # roles user, camera_admin, import (the demo's admin)
VIEWER = ("viewer", "viewer-password")  # role user
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class DemoSite:
    """A served demo node: ``url`` ends in ``/``; ``summary`` is what the demo created."""
    server: MeteorServer
    url: str
    backend: str
    summary: dict[str, Any]

    @property
    def cameras(self) -> list[str]:
        return self.server.db.get_cameras()


def fill_demo(db: Any, cameras: int = 3, nights: int = 2, seed: int = 1) -> dict[str, Any]:
    """Fill an empty node with the demo network and add the ADMIN and VIEWER users."""
    from meteorpi_cli.demo import fill_node
    from meteorpi_cli.demo_network import plan_network

    summary = fill_node(db, plan_network(seed, cameras, nights), *ADMIN)
    db.create_or_update_user(*VIEWER, ["user"])
    return summary


@contextmanager
def serving_demo(db_url: str, directory: Path, backend: str = "sqlite", **plan: Any) -> Iterator[DemoSite]:
    """Fill the (empty, migrated) database at ``db_url`` with the demo network and serve it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPI_ARGON2_PROFILE", "test")  # cheap password hashing
        server = MeteorServer(db_url, str(directory / "files"), 0, installation_id=INSTALLATION_ID)
        summary = fill_demo(server.db, **plan)
        stop = server.start_non_blocking()
        try:
            yield DemoSite(server, server.base_url(), backend, summary)
        finally:
            stop()
            server.db.close()


@pytest.fixture(scope="session")
def demo_site(backend: str, backend_template: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """One served demo network per backend for the whole session (read-only: never write)."""
    with serving_demo_copy(backend, backend_template, tmp_path_factory.mktemp(f"demo-site-{backend}")) as site:
        yield site


@contextmanager
def serving_demo_copy(backend: str, backend_template: str, directory: Path,
                      **options: Any) -> Iterator[DemoSite]:
    """A demo network served from a fresh copy of the backend's template database, dropped after."""
    url = backends.copy_template(backend, backend_template, directory / "meteorpi.db")
    try:
        with serving_demo(url, directory, backend, **options) as site:
            yield site
    finally:
        backends.drop_copy(backend, url)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/services (installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


#: the one Chromium of this process, and how many ``browser`` fixtures hold it
_SHARED: dict[str, Any] = {}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium per test session (per xdist worker), shared by every test module that
    imports this fixture: Playwright's sync API runs one instance per thread."""
    if not _SHARED:
        manager = chromium()
        _SHARED.update(manager=manager, browser=manager.__enter__(), holders=0)
    _SHARED["holders"] += 1
    try:
        yield _SHARED["browser"]
    finally:
        _SHARED["holders"] -= 1
        if not _SHARED["holders"]:
            manager = _SHARED["manager"]
            _SHARED.clear()
            manager.__exit__(None, None, None)


# Report CSP violations on the console too (Chromium also logs them; this names the directive).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""


@dataclass
class CheckedPage:
    """A Playwright page that records what went wrong and what was transferred."""
    page: Any
    base_url: str
    label: str = ""
    problems: list[str] = field(default_factory=list)
    finished: list[Any] = field(default_factory=list)

    @classmethod
    def new(cls, browser: Any, base_url: str, viewport: dict[str, int] | None = None,
            label: str = "", mobile: bool = False) -> "CheckedPage":
        context = browser.new_context(viewport=viewport or DESKTOP, is_mobile=mobile,
                                      has_touch=mobile, locale="en-GB", timezone_id="Europe/Berlin",
                                      service_workers="block")
        checked = cls(context.new_page(), base_url, label)
        checked.page.add_init_script(_CSP_LISTENER)
        checked.page.on("console", checked._console)
        checked.page.on("pageerror", lambda error: checked.problems.append(f"page error: {error}"))
        checked.page.on("requestfailed", lambda r: checked.problems.append(
            f"request failed: {r.method} {r.url} ({r.failure})"))
        checked.page.on("response", checked._response)
        checked.page.on("requestfinished", lambda request: checked.finished.append(request))
        return checked

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def open(self, path: str, screenshot: str | None = None) -> Any:
        """Load ``path`` (relative to the server), wait for the network to go idle, screenshot it."""
        self.finished.clear()
        response = self.page.goto(self.url(path))
        self.settle()
        self.screenshot(screenshot or re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root")
        return response

    def settle(self) -> None:
        """Wait for the load to go network-idle and for no element to be ``aria-busy``: pages
        mark what they are (re)loading that way, since a load state, once reached, is not
        waited for again after a click."""
        self.page.wait_for_load_state("networkidle")
        self.page.locator('[aria-busy="true"]').first.wait_for(state="detached")

    def screenshot(self, name: str, directory: Path = SCREENSHOTS, full_page: bool = True) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}{'-' + self.label if self.label else ''}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def transferred(self) -> int:
        """Bytes transferred (headers and bodies) by the requests finished since ``open``."""
        total = 0
        for request in self.finished:
            sizes = request.sizes()
            total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        return total

    def requested(self, pattern: str) -> list[Any]:
        return [r for r in self.finished if re.search(pattern, r.url)]

    def log_in(self, user: tuple[str, str]) -> None:
        """Log in through the login page (the credentials stay in this context's tab)."""
        self.open("web/login", screenshot="login")
        self.page.get_by_label("User").fill(user[0])
        self.page.get_by_label("Password").fill(user[1])
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(re.compile(r"/web/(?!login)"))
        self.settle()

    def assert_clean(self) -> None:
        """No console error or warning, CSP violation, failed request or HTTP error so far."""
        assert not self.problems, "\n".join(self.problems)

    def close(self) -> None:
        self.page.context.close()


@pytest.fixture
def page(browser: Any, demo_site: DemoSite) -> Iterator[CheckedPage]:
    """A fresh desktop-sized page on the demo site; checked clean at the end of the test."""
    checked = CheckedPage.new(browser, demo_site.url, label=demo_site.backend)
    yield checked
    checked.close()
