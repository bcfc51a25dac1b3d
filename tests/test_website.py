"""The website's public pages in a real Chromium, against a real server with the demo network
(one per backend per session): each page loads with no console error, CSP violation or failed
request, on a desktop and on a phone; a search with two metadata constraints finds what the API
finds; the charts' numbers are the activity API's; the gallery shows thumbnails, not the images;
the login shows camera health. Screenshots go to build/screenshots/."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.browser_helpers import (PHONE, VIEWER, CheckedPage, DemoSite, browser,  # noqa: F401
                                   demo_site, page)
from tests.test_server_browse import encode_like_the_page

DAY_MS = 86_400_000
NOON_MS = 43_200_000


def api(site: DemoSite, path: str) -> Any:
    response = requests.get(site.url + path, timeout=30)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def night_start(name: str) -> int:
    from datetime import datetime, timezone
    day = datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    return int(day.timestamp() * 1000) + NOON_MS


PAGES = ["", "web/", "web/search", "web/camera", "web/camera?id={camera}", "web/login", "web/health",
         "web/?tab=sky", "web/?tab=groups", "web/search?kind=files&type=meteorpi:sky_clarity"]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_clean(page: CheckedPage, demo_site: DemoSite, path: str) -> None:
    response = page.open(path.format(camera=demo_site.cameras[0]))
    assert response.status == 200
    assert page.page.locator("main h1").count() == 1
    assert page.page.locator("nav.site a[aria-current=page]").count() <= 1
    page.assert_clean()


@pytest.mark.parametrize("path", ["web/", "web/search", "web/camera?id={camera}", "web/health"])
def test_each_page_reads_on_a_phone(browser, demo_site: DemoSite, path: str) -> None:  # noqa: F811
    phone = CheckedPage.new(browser, demo_site.url, PHONE, label=demo_site.backend + "-phone", mobile=True)
    try:
        phone.open(path.format(camera=demo_site.cameras[0]))
        overflow = phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow} px wider than the phone's screen"
        phone.assert_clean()
    finally:
        phone.close()


def test_every_input_has_a_label(page: CheckedPage) -> None:
    page.open("web/search")
    page.page.get_by_role("button", name="Add a metadata constraint").click()
    unlabelled = page.page.evaluate("""[...document.querySelectorAll("input, select")]
        .filter((e) => e.type !== "hidden" && !e.labels.length && !e.getAttribute("aria-label"))
        .map((e) => e.outerHTML)""")
    assert unlabelled == []
    page.assert_clean()


def test_a_search_with_two_metadata_constraints_finds_what_the_api_finds(
        page: CheckedPage, demo_site: DemoSite) -> None:
    page.open("web/search")
    ui = page.page
    for key, condition, value in (("meteorpi:shower", "is (text)", "PER"),
                                  ("meteorpi:magnitude", "\u2264 (number)", "3")):
        ui.get_by_role("button", name="Add a metadata constraint").click()
        row = ui.locator(".meta-row").last
        row.get_by_label("Key").fill(key)
        row.get_by_label("Condition").select_option(label=condition)
        row.get_by_label("Value").fill(value)
    ui.get_by_label("Per page").select_option("100")
    ui.get_by_role("button", name="Search", exact=True).click()
    ui.wait_for_url(re.compile(r"m=less"))
    page.settle()
    ui.wait_for_selector("#result-table")
    shown = ui.locator("#result-table tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.eventId)")
    count = int(ui.locator("#result-table").get_attribute("data-count"))

    search = {"meta": [{"type": "string_equals", "key": "meteorpi:shower", "value": "PER"},
                       {"type": "less", "key": "meteorpi:magnitude", "value": 3}], "limit": 100, "skip": 0}
    answer = api(demo_site, "events/" + encode_like_the_page(search))
    assert 0 < answer["count"] < demo_site.summary["events"]
    assert (count, shown) == (answer["count"], [e["event_id"] for e in answer["events"]])
    # The state is in the URL: opened afresh, the same results; the curl line asks the same.
    params = parse_qs(urlsplit(ui.url).query)
    assert params["m"] == ["string_equals|meteorpi:shower|PER", "less|meteorpi:magnitude|3"]
    again = CheckedPage.new(page.page.context.browser, demo_site.url, label=demo_site.backend)
    try:
        again.page.goto(ui.url)
        again.page.wait_for_selector("#result-table")
        again.settle()
        assert again.page.locator("#result-table tbody tr").count() == len(shown)
        again.assert_clean()
    finally:
        again.close()
    curl = ui.locator("#curl").text_content()
    assert curl.startswith("curl '") and requests.get(curl[6:-1], timeout=30).json() == answer
    python = ui.locator("#python").text_content()
    assert "client.search_events(search)" in python and '"meteorpi:shower"' in python
    page.assert_clean()


def test_the_python_snippet_runs_and_finds_the_same(page: CheckedPage, demo_site: DemoSite) -> None:
    page.open("web/search?kind=files&type=meteorpi:sky_clarity&m=greater|meteorpi:sky_clarity|80"
              "&night_from=2024-08-11&night_to=2024-08-11&time_from=22:00&time_to=04:00")
    snippet = page.page.locator("#python").text_content()
    scope: dict[str, Any] = {}
    exec(compile(snippet.replace("print(", "result = ("), "snippet", "exec"), scope)  # noqa: S102
    search = {"after": night_start("2024-08-11") - 1, "before": night_start("2024-08-11") + DAY_MS,
              "after_offset": 36000, "before_offset": 57600, "semantic_type": "meteorpi:sky_clarity",
              "meta": [{"type": "greater", "key": "meteorpi:sky_clarity", "value": 80}],
              "limit": 25, "skip": 0}
    answer = api(demo_site, "files/" + encode_like_the_page(search))
    assert answer["count"] > 0
    assert scope["found"]["count"] == answer["count"]
    assert page.page.locator("#result-table tbody tr").count() == len(answer["files"])
    page.assert_clean()


def test_a_malformed_input_is_shown_not_sent(page: CheckedPage) -> None:
    page.open("web/search?kind=events&after=12/08/2024")
    assert "must be a UTC time" in page.page.locator("#status").text_content()
    page.assert_clean()


def test_the_charts_numbers_are_the_activity_apis(page: CheckedPage, demo_site: DemoSite) -> None:
    camera = demo_site.cameras[0]
    page.open(f"web/camera?id={camera}")
    ui = page.page

    def bars(chart: str) -> dict[int, float]:
        return {int(k): float(v) for k, v in ui.locator(f"#{chart} rect.bar").evaluate_all(
            "(bars) => bars.map((b) => [b.dataset.key, b.dataset.value])")}

    nights = api(demo_site, f"activity/events/{encode_like_the_page({'camera_ids': [camera]})}?bin=night")
    assert nights["bins"] and nights["total"] == sum(b["count"] for b in nights["bins"])
    per_night = bars("triggers-per-night")
    assert {k: v for k, v in per_night.items() if v} == {b["start"]: b["count"] for b in nights["bins"]}

    clarity = api(demo_site, "activity/files/" + encode_like_the_page(
        {"camera_ids": [camera], "semantic_type": "meteorpi:sky_clarity"}) + "?bin=night&mean=meteorpi:sky_clarity")
    assert bars("clarity-per-night") == pytest.approx({b["start"]: b["mean"] for b in clarity["bins"]})

    last = nights["bins"][-1]["start"]
    hours = api(demo_site, "activity/events/" + encode_like_the_page(
        {"camera_ids": [camera], "after": last - 1, "before": last + DAY_MS}) + "?bin=hour")
    per_hour = bars("triggers-per-hour")
    assert len(per_hour) == 24 and min(per_hour) == last
    assert {k: v for k, v in per_hour.items() if v} == {b["start"]: b["count"] for b in hours["bins"]}
    # the same numbers are in the table under the chart, and each bar has a title
    assert ui.locator("#triggers-per-hour table tbody tr").count() == 24
    assert ui.locator("#triggers-per-night rect.bar title").count() == len(per_night)
    nights_marked = ui.locator("#chart-calendar td[data-night]").evaluate_all("(c) => c.map((d) => d.dataset.night)")
    assert set(nights_marked) >= {_night_name(b["start"]) for b in nights["bins"]}
    page.assert_clean()


def _night_name(start: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(start / 1000, timezone.utc).strftime("%Y-%m-%d")


def test_choosing_another_night_redraws_the_hours_and_keeps_it_in_the_url(
        page: CheckedPage, demo_site: DemoSite) -> None:
    camera = demo_site.cameras[0]
    page.open(f"web/camera?id={camera}")
    page.page.get_by_label("Night (UTC)").fill("2024-08-11")
    page.page.get_by_role("button", name="Show").click()
    page.page.locator("#hour-heading", has_text="2024-08-11").wait_for()
    page.settle()
    assert "night=2024-08-11" in page.page.url
    assert min(int(k) for k in page.page.locator("#triggers-per-hour rect.bar").evaluate_all(
        "(bars) => bars.map((b) => b.dataset.key)")) == night_start("2024-08-11")
    page.assert_clean()


def test_the_gallery_loads_thumbnails_not_the_images(page: CheckedPage, demo_site: DemoSite) -> None:
    page.open("web/")
    images = page.requested(r"/files/(thumbnail|content)/")
    assert images and all("/files/thumbnail/" in r.url for r in images)
    thumbnail_bytes = sum(r.sizes()["responseBodySize"] for r in images)
    shown = page.page.locator("article.event").evaluate_all("(cards) => cards.map((c) => c.dataset.eventId)")
    answer = api(demo_site, "events/" + encode_like_the_page({"limit": 24, "skip": 0}))
    assert shown == [e["event_id"] for e in answer["events"]]
    full = sum(f["file_size"] for e in answer["events"] for f in e["files"]
               if f["semantic_type"] == "meteorpi:meteor_image")
    assert thumbnail_bytes * 5 < full, (thumbnail_bytes, full)
    page.assert_clean()


def test_the_gallery_filters_by_observing_night(page: CheckedPage, demo_site: DemoSite) -> None:
    page.open("web/")
    page.page.get_by_label("From night (UTC)").fill("2024-08-11")
    page.page.get_by_label("To night (UTC)").fill("2024-08-11")
    page.page.get_by_label("Per page").select_option("96")
    page.page.get_by_role("button", name="Apply").click()
    page.page.wait_for_url(re.compile(r"after=2024-08-11"))
    page.settle()
    start = night_start("2024-08-11")
    answer = api(demo_site, "events/" + encode_like_the_page(
        {"after": start - 1, "before": start + DAY_MS, "limit": 96, "skip": 0}))
    times = [e["event_time"] for e in answer["events"]]
    assert times and all(start <= t < start + DAY_MS for t in times)
    assert any(t >= start + NOON_MS for t in times), "the night crosses midnight UTC"
    shown = page.page.locator("article.event").evaluate_all("(cards) => cards.map((c) => c.dataset.eventId)")
    assert shown == [e["event_id"] for e in answer["events"]]
    page.assert_clean()


def test_the_old_links_still_open_the_gallery(page: CheckedPage) -> None:
    page.open("browse#tab=sky")
    page.page.wait_for_selector("article.file")
    assert urlsplit(page.page.url).path.endswith("/web/") and "tab=sky" in page.page.url
    assert page.page.locator("#tab-sky").get_attribute("aria-selected") == "true"
    page.assert_clean()


def test_camera_health_after_login(page: CheckedPage, demo_site: DemoSite) -> None:
    page.open("web/health")
    assert page.page.get_by_role("link", name="Camera health").count() == 0
    assert page.page.locator("#health a", has_text="Log in").count() == 1
    page.log_in(VIEWER)
    page.open("web/health")
    assert page.page.get_by_role("link", name="Camera health").count() == 1
    rows = page.page.locator("#health tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.cameraId)")
    assert sorted(rows) == sorted(demo_site.cameras)
    page.page.get_by_role("button", name="Log out").click()
    page.page.wait_for_selector("#login-link")
    assert page.page.evaluate("sessionStorage.length") == 0
    page.assert_clean()
