"""The website tour: screenshots of each page on the demo network (docs/tour/*.png) and the
bytes each page transfers on its first view (docs/tour/page-weights.md).

Run ``scripts/screenshots`` (= ``.venv/bin/python -m tests.website_tour``). To add a page to the
tour, add a :class:`Stop` to :data:`TOUR`.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tests.browser_helpers import ADMIN, DESKTOP, PHONE, VIEWER, CheckedPage, chromium, serving_demo

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tour"


@dataclass(frozen=True)
class Stop:
    """One screenshot: ``path`` relative to the node (``{camera}`` is its first camera)."""
    name: str
    path: str
    title: str
    login: tuple[str, str] | None = None
    viewport: dict[str, int] | None = None
    prepare: Callable[[Any], None] | None = None  # called with the Playwright page before the shot
    full_page: bool = False


def _open_first_event(ui: Any) -> None:
    ui.locator("article.event .thumb").first.click()
    ui.wait_for_selector("#viewer[open] img.full")
    ui.wait_for_load_state("networkidle")


def _warn_rollback(ui: Any) -> None:
    """The high water mark page's warning before a rollback (nothing is deleted)."""
    ui.get_by_label("New mark (UTC)").fill("2024-08-11 20:00:00")
    ui.get_by_role("button", name="Check").click()
    ui.wait_for_selector("#rollback-warning")


#: an export configuration for the exports page (the demo node has none), added as the admin
_ADD_EXPORT = """async () => {
  const app = await import("./static/app.js");
  await app.getJSON("export", {auth: true, method: "POST", body: {type: "event", name: "to central",
    target_url: "https://central.example.org/import", user_id: "node7", password: "central-password",
    description: "bright meteors"}});
}"""


def _show_export(ui: Any) -> None:
    ui.evaluate(_ADD_EXPORT)
    ui.reload()
    ui.wait_for_selector("#exports table")
    ui.wait_for_load_state("networkidle")


TOUR: list[Stop] = [
    Stop("gallery", "web/", "Gallery: meteor events as thumbnails, filtered by camera and observing night"),
    Stop("viewer", "web/", "An event opened in the viewer: the full image, metadata, files", prepare=_open_first_event),
    Stop("sky", "web/?tab=sky", "Sky-clarity images"),
    Stop("search", "web/search?kind=events&m=string_equals|meteorpi:shower|PER&m=less|meteorpi:magnitude|2"
                   "&night_from=2024-08-12&night_to=2024-08-12",
         "Search: Perseids brighter than magnitude 2 in the night of 12 August, with the same search as curl and Python"),
    Stop("cameras", "web/camera", "The cameras"),
    Stop("camera", "web/camera?id={camera}", "A camera: status, visible-sky regions, trigger rate per night and "
                                           "per hour, sky clarity per night, nights with data", full_page=True),
    Stop("login", "web/login", "Log in (the admin API's Basic auth)"),
    Stop("health", "web/health", "Camera health, for logged-in users", login=VIEWER),
    Stop("users", "web/users", "Users, roles and camera grants (camera_admin)", login=ADMIN),
    Stop("camera-status", "web/camera-status?camera={camera}", "A camera's status and its visible-sky "
         "polygons over the latest sky image (camera_admin)", login=ADMIN, full_page=True),
    Stop("hwm", "web/hwm?camera={camera}", "High water marks (camera_admin)", login=ADMIN),
    Stop("hwm-rollback", "web/hwm?camera={camera}", "The warning before a rollback", login=ADMIN,
         prepare=_warn_rollback),
    Stop("exports", "web/exports", "Export configurations and their queues (camera_admin)", login=ADMIN,
         prepare=_show_export),
    Stop("password", "web/password", "Change your own password (any logged-in user)", login=VIEWER),
    Stop("gallery-phone", "web/", "The gallery on a phone", viewport=PHONE),
    Stop("search-phone", "web/search", "The search editor on a phone", viewport=PHONE),
]


def run(directory: Path, stops: list[Stop]) -> list[tuple[Stop, int, int]]:
    """Screenshot each stop into ``directory``; return (stop, bytes transferred, requests)."""
    directory.mkdir(parents=True, exist_ok=True)
    weights = []
    with tempfile.TemporaryDirectory(prefix="meteorpi-tour-") as temp, chromium() as browser:
        work = Path(temp)
        with serving_demo(f"sqlite:///{work / 'meteorpi.db'}", work, cameras=4, nights=3) as site:
            camera = site.cameras[0]
            for stop in stops:
                page = CheckedPage.new(browser, site.url, stop.viewport or DESKTOP,
                                       mobile=stop.viewport is PHONE)
                try:
                    if stop.login:
                        page.log_in(stop.login)
                        cdp = page.page.context.new_cdp_session(page.page)
                        cdp.send("Network.clearBrowserCache")  # the page's first view, cold
                    page.open(stop.path.format(camera=camera), screenshot=f"tour-{stop.name}")
                    weight, requests = page.transferred(), len(page.finished)
                    if stop.prepare:
                        stop.prepare(page.page)
                    page.page.screenshot(path=str(directory / f"{stop.name}.png"), full_page=stop.full_page)
                    page.assert_clean()
                    weights.append((stop, weight, requests))
                    print(f"{stop.name:16} {weight / 1024:8.1f} KiB in {requests:3} requests")
                finally:
                    page.close()
    return weights


def write_weights(path: Path, weights: list[tuple[Stop, int, int]]) -> None:
    lines = ["# Page weights (generated by `scripts/screenshots`; do not edit)", "",
             "Bytes transferred (headers and bodies, uncompressed, cold cache) for the first view of "
             "each page of the website on the demo network (4 cameras, 3 nights), in headless Chromium.",
             "", "| page | path | KiB | requests |", "| --- | --- | ---: | ---: |"]
    for stop, weight, requests in weights:
        if stop.prepare is None:
            size = f"{stop.viewport['width']} px" if stop.viewport else "desktop"
            lines.append(f"| {stop.name} ({size}) | `{stop.path.split('?')[0]}` | {weight / 1024:.1f} | {requests} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNGs go (default docs/tour)")
    parser.add_argument("--only", nargs="*", help="names of the stops to take (default all)")
    args = parser.parse_args()
    stops = [s for s in TOUR if not args.only or s.name in args.only]
    weights = run(args.out, stops)
    if not args.only:
        write_weights(args.out / "page-weights.md", weights)


if __name__ == "__main__":
    main()
