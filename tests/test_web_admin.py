"""The website's admin pages in a real headless Chromium (Playwright, Debian's chromium) on every
backend: each loads clean, each role sees exactly its pages (and the API refuses it the rest),
and the changes made in the pages reach the admin API (camera status and regions, the high
water mark after its rollback warning, an export re-run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from playwright.sync_api import expect

import meteorpi_model as model
from tests.browser_helpers import (ADMIN, PHONE, VIEWER, CheckedPage, DemoSite, browser,  # noqa: F401
                                   demo_site, page, serving_demo_copy)

ADMIN_PAGES = ["users", "camera-status", "hwm", "exports", "password"]
ADMIN_ONLY = ["users", "camera-status", "hwm", "exports"]
IMPORTER = ("node-importer", "importer-password")
#: the form controls of a page's content without an accessible name (label, aria-label or text)
UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    '#content input, #content select, #content textarea, #content button')]
  .filter((e) => !e.labels?.length && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map((e) => e.id || e.outerHTML.slice(0, 80))"""
#: one admin API route behind each admin-only page, for checking that the API refuses it too
API_OF_PAGE = {"users": ("GET", "users"), "camera-status": ("PATCH", "cameras/{camera}/status"),
               "hwm": ("GET", "cameras/{camera}/hwm"), "exports": ("GET", "export")}


@pytest.fixture(scope="module")
def admin_site(backend: str, backend_template: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """A demo node of this module's own, which its tests change (each a different camera)."""
    directory = tmp_path_factory.mktemp(f"admin-site-{backend}")
    with serving_demo_copy(backend, backend_template, directory, cameras=3, nights=1) as site:
        site.server.db.create_or_update_user(*IMPORTER, ["import"])
        yield site


@pytest.fixture
def admin_page(browser: Any, admin_site: DemoSite) -> Iterator[CheckedPage]:
    checked = CheckedPage.new(browser, admin_site.url, label=admin_site.backend)
    checked.page.on("dialog", lambda dialog: dialog.accept())
    yield checked
    checked.close()


def log_in(page: CheckedPage, account: tuple[str, str], next_page: str = "password") -> None:
    """Log in through the login page, coming back to ``next_page`` (an admin page)."""
    page.open(f"web/login?next={next_page}", screenshot="login")
    page.page.get_by_label("User").fill(account[0])
    page.page.get_by_label("Password", exact=True).fill(account[1])
    page.page.get_by_role("button", name="Log in").click()
    page.page.wait_for_url(re.compile(r"/web/(?!login)"))
    page.settle()


def wait_status(page: Any, prefix: str) -> None:
    """Wait until the page's status line starts with ``prefix`` (its answer to the last action)."""
    expect(page.locator("#status")).to_have_text(re.compile("^" + re.escape(prefix)))


def api(site: DemoSite, method: str, path: str, auth: tuple[str, str] | None = ADMIN, **kwargs: Any) -> requests.Response:
    return requests.request(method, site.url + path, auth=auth, timeout=30, **kwargs)


def nav_links(page: CheckedPage) -> list[str]:
    return [link.inner_text() for link in page.page.locator("nav.site a").all()]


def admin_links(page: CheckedPage) -> list[str]:
    return [link.get_attribute("href").rsplit("/", 1)[-1] for link in page.page.locator("nav.site li.admin a").all()]


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_each_admin_page_loads_clean(browser: Any, demo_site: DemoSite, phone: bool) -> None:
    viewport, label = (PHONE, demo_site.backend + "-phone") if phone else (None, demo_site.backend)
    page = CheckedPage.new(browser, demo_site.url, viewport=viewport, label=label, mobile=phone)
    try:
        log_in(page, ADMIN)
        for name in ADMIN_PAGES:
            page.open(f"web/{name}", screenshot=f"admin-{name}")
            assert page.page.locator("#denied").is_hidden(), name
            assert page.page.locator("#content").is_visible(), name
            assert page.page.locator("#status.error").count() == 0, (name, page.page.inner_text("#status"))
            assert page.page.locator("nav.site a[aria-current=page]").inner_text() != ""
        page.open("web/camera-status", screenshot="admin-camera-status")
        page.page.wait_for_selector("#sky-overlay")  # the regions over the sky image
        assert page.page.locator("img.sky-image").evaluate("img => img.naturalWidth") > 0
        assert page.page.locator("#sky-overlay .region polygon").count() >= 1
        # every form control of every admin page has an accessible name
        for name in ADMIN_PAGES:
            page.open(f"web/{name}", screenshot=f"admin-{name}")
            unnamed = page.page.evaluate(UNNAMED_CONTROLS)
            assert unnamed == [], (name, unnamed)
        page.assert_clean()
    finally:
        page.close()


def test_each_role_sees_exactly_its_pages(browser: Any, admin_site: DemoSite) -> None:
    camera = admin_site.cameras[0]
    cases = [(ADMIN, ADMIN_PAGES), (VIEWER, ["password"])]
    for account, allowed in cases:
        page = CheckedPage.new(browser, admin_site.url, label=f"{admin_site.backend}-{account[0]}")
        try:
            log_in(page, account)
            assert sorted(admin_links(page)) == sorted(allowed), account
            for name in ADMIN_PAGES:
                page.open(f"web/{name}", screenshot=f"role-{account[0]}-{name}")
                visible = page.page.locator("#content").is_visible()
                assert visible == (name in allowed), (account, name)
                if not visible:
                    assert "camera_admin" in page.page.inner_text("#denied")
            page.assert_clean()  # no request the API had to refuse
        finally:
            page.close()
        for name, (method, path) in API_OF_PAGE.items():
            status = api(admin_site, method, path.format(camera=camera), auth=account, json={}).status_code
            assert (status != 403) == (name in allowed), (account, name, status)
    # Not logged in: no admin link, every admin page says to log in, and sends no API request.
    page = CheckedPage.new(browser, admin_site.url, label=f"{admin_site.backend}-anonymous")
    try:
        for name in ADMIN_PAGES:
            page.open(f"web/{name}", screenshot=f"role-anonymous-{name}")
            assert page.page.locator("#content").is_hidden() and "Log in" in page.page.inner_text("#denied")
            assert admin_links(page) == []
            assert not page.requested("^" + re.escape(admin_site.url) + r"(users|export|login|cameras/[^/]+/hwm)(\?|$|/)")
        # An import-only account (another node) may not log in to the website at all.
        page.open("web/login")
        page.page.get_by_label("User").fill(IMPORTER[0])
        page.page.get_by_label("Password").fill(IMPORTER[1])
        page.page.get_by_role("button", name="Log in").click()
        page.page.wait_for_selector("#status.error")
        assert "Role required: user" in page.page.inner_text("#status")
    finally:
        page.close()
    for method, path in API_OF_PAGE.values():
        assert api(admin_site, method, path.format(camera=camera), auth=IMPORTER, json={}).status_code == 403


def test_an_admin_edits_a_camera_status_in_the_page(admin_page: CheckedPage, admin_site: DemoSite) -> None:
    camera = admin_site.cameras[1]
    before = api(admin_site, "GET", f"cameras/{camera}/status").json()["status"]
    page = admin_page.page
    log_in(admin_page, ADMIN)
    admin_page.open(f"web/camera-status?camera={camera}", screenshot="camera-status-edit")
    page.wait_for_selector("#sky-overlay .region")
    page.get_by_label("Lens").fill("Fujinon 2.8mm f/1.2")
    page.get_by_label("Latitude (°N)").fill("51.75")
    page.get_by_label("Azimuth (°)").fill("123.5")
    # a new polygon: three clicks on the sky image
    page.get_by_role("button", name="New polygon").click()
    overlay = page.locator("#sky-overlay")
    box = overlay.bounding_box()
    for fx, fy in ((0.1, 0.1), (0.3, 0.1), (0.2, 0.3)):
        overlay.click(position={"x": fx * box["width"], "y": fy * box["height"]})
    regions_in_page = page.evaluate("JSON.parse(document.getElementById('f-regions').value)")
    assert len(regions_in_page) == len(before["regions"]) + 1 and len(regions_in_page[-1]) == 3
    page.get_by_role("button", name="Save new status block").click()
    wait_status(page, "Saved")
    admin_page.screenshot("camera-status-saved")
    after = api(admin_site, "GET", f"cameras/{camera}/status").json()["status"]
    assert after["status_id"] != before["status_id"]
    assert (after["lens"], after["location"]["lat"], after["orientation"]["az"]) == ("Fujinon 2.8mm f/1.2", 51.75, 123.5)
    assert after["location"]["long"] == before["location"]["long"] and after["inst_name"] == before["inst_name"]
    assert after["regions"] == regions_in_page and after["regions"][:-1] == before["regions"]
    width, height = 720, 576  # the demo's sky images
    (x0, y0), (x1, y1), (x2, y2) = ((p["x"], p["y"]) for p in after["regions"][-1])
    assert abs(x0 - 0.1 * width) <= 3 and abs(y0 - 0.1 * height) <= 3 and abs(x1 - 0.3 * width) <= 3
    assert abs(x2 - 0.2 * width) <= 3 and abs(y2 - 0.3 * height) <= 3
    admin_page.assert_clean()


def test_the_hwm_page_warns_before_a_rollback(admin_page: CheckedPage, admin_site: DemoSite) -> None:
    camera = admin_site.cameras[2]
    db = admin_site.server.db
    mark = db.get_high_water_mark(camera)
    events = db.search_events(model.EventSearch(camera_ids=[camera], limit=1))
    assert events["count"] > 0
    oldest = db.search_events(model.EventSearch(camera_ids=[camera], limit=0))["events"][-1].event_time
    back = oldest.replace(microsecond=0)  # at or before the camera's first event: a rollback over data
    page = admin_page.page
    log_in(admin_page, ADMIN)
    admin_page.open(f"web/hwm?camera={camera}", screenshot="hwm")
    page.get_by_label("Camera").select_option(camera)
    page.get_by_label("New mark (UTC)").fill(back.strftime("%Y-%m-%d %H:%M:%S"))
    page.get_by_role("button", name="Check").click()
    warning = page.wait_for_selector("#rollback-warning")
    admin_page.screenshot("hwm-rollback-warning")
    expected = api(admin_site, "GET", f"cameras/{camera}/hwm",
                   params={"time": model.utc_datetime_to_milliseconds(back)}).json()["rollback"]
    text = warning.inner_text()
    assert f"{expected['events']} events, {expected['files']} files" in text and expected["events"] > 0
    assert db.get_high_water_mark(camera) == mark  # warned, nothing done yet
    assert page.get_by_role("button", name="Roll back and delete").is_disabled()
    page.get_by_label("I understand: delete this data").check()
    page.get_by_role("button", name="Roll back and delete").click()
    wait_status(page, "High water mark")
    assert db.get_high_water_mark(camera) == back
    assert db.search_events(model.EventSearch(camera_ids=[camera], after=back))["count"] == 0
    row = page.locator(f"#marks tr[data-camera='{camera}']").inner_text()
    assert back.strftime("%Y-%m-%d %H:%M:%S") in row
    admin_page.assert_clean()


def test_an_export_re_run_from_the_page_requeues(admin_page: CheckedPage, admin_site: DemoSite) -> None:
    db = admin_site.server.db
    config = db.create_or_update_export_configuration(model.ExportConfiguration(
        "http://127.0.0.1:9/import", "central-user", "target-password",
        model.EventSearch(camera_ids=[admin_site.cameras[0]]), "to central", "", enabled=True))
    queued = db.mark_entities_to_export(config)
    assert queued > 0
    db.record_export_failure(config.config_id)
    db.defer_export_tasks(config.config_id, 3600)
    page = admin_page.page
    log_in(admin_page, ADMIN)
    admin_page.open("web/exports", screenshot="exports")
    row = page.locator(f"#exports tr[data-config='{config.config_id.hex}']")
    assert row.locator(".queue-deferred").inner_text() == str(queued)
    assert "failing" in row.locator(".queue-state").inner_text()
    row.get_by_role("button", name="Re-run to central").click()
    wait_status(page, "Re-ran")
    queue = api(admin_site, "GET", f"export/{config.config_id.hex}/queue").json()["queue"]
    assert (queue["due"], queue["deferred"], queue["failure_count"]) == (queued, 0, 0)
    row = page.locator(f"#exports tr[data-config='{config.config_id.hex}']")
    assert row.locator(".queue-due").inner_text() == str(queued)
    row.get_by_role("button", name="Disable to central").click()
    wait_status(page, "Disabled")
    assert db.get_export_configuration(config.config_id).enabled is False
    assert db.get_export_configuration(config.config_id).password == "target-password"
    admin_page.assert_clean()


def test_users_roles_grants_and_own_password_in_the_pages(admin_page: CheckedPage, admin_site: DemoSite) -> None:
    page = admin_page.page
    log_in(admin_page, ADMIN)
    admin_page.open("web/users", screenshot="users")
    page.get_by_label("User id").fill("observer")
    page.locator("#new-user-password").fill("observer-password")
    page.get_by_role("button", name="Add user").click()
    row = page.locator("#users tr[data-user='observer']")
    row.wait_for()
    row.get_by_label("camera_admin role of observer").check()
    row.get_by_role("button", name="Save roles").click()
    wait_status(page, "Roles of observer")
    camera = admin_site.cameras[0]
    row = page.locator("#users tr[data-user='observer']")
    row.get_by_label("Camera to grant to observer").fill(camera)
    row.get_by_role("button", name="Grant").click()
    wait_status(page, "Granted")
    assert api(admin_site, "GET", "users/observer/cameras").json()["cameras"] == [camera]
    assert api(admin_site, "GET", "login", auth=("observer", "observer-password")).json()["user"]["roles"] == [
        "user", "camera_admin"]
    admin_page.close()
    # the new user logs in, changes its own password, and the pages keep working
    page2 = CheckedPage.new(admin_page.page.context.browser, admin_site.url, label=admin_site.backend + "-observer")
    try:
        log_in(page2, ("observer", "observer-password"))
        page2.open("web/password", screenshot="password")
        page2.page.get_by_label("Current password").fill("observer-password")
        page2.page.get_by_label("New password", exact=True).fill("observer-password-2")
        page2.page.get_by_label("New password again").fill("observer-password-2")
        page2.page.get_by_role("button", name="Change password").click()
        wait_status(page2.page, "Password of")
        assert api(admin_site, "GET", "login", auth=("observer", "observer-password")).status_code == 403
        page2.open("web/users")
        assert page2.page.locator("#users tr[data-user='observer']").count() == 1
        page2.assert_clean()
    finally:
        page2.close()
