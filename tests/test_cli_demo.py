"""The demo network: synthetic images, the deterministic plan, and ``meteorpi demo`` filling a
node whose searches then return exactly what the demo says it created (on every backend)."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageStat

import meteorpi_model as model
from meteorpi_cli import main
from meteorpi_cli import sky_images
from meteorpi_cli.demo_network import EVENT_TYPE, SITES, DemoEvent, DemoFile, plan_network
from tests.server_helpers import cheap_password_hashing  # noqa: F401
from tests.test_cli import Cli, as_json, cli, data_dir, error_line, node_db  # noqa: F401

HORIZON = [(0, 0), (719, 0), (719, 450), (400, 500), (0, 470)]


# -- images ------------------------------------------------------------------------------

def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_meteor_frame_is_a_dark_sky_with_a_bright_streak() -> None:
    frame = sky_images.meteor_frame(random.Random(1), (100, 100), (400, 300), peak_brightness=250,
                                    visible_sky=[HORIZON], caption="b827eb000001 2024-08-12 01:23:45Z")
    image = _decode(sky_images.png_bytes(frame))
    assert (image.format, image.mode, image.size) == ("PNG", "L", (sky_images.WIDTH, sky_images.HEIGHT))
    streak = [image.getpixel((int(100 + 300 * t), int(100 + 200 * t))) for t in (0.6, 0.65, 0.7)]
    assert min(streak) > 150
    sky = ImageStat.Stat(image.crop((500, 20, 700, 120)))
    assert sky.median[0] < 40
    assert image.getpixel((360, 560)) <= 10 or image.getpixel((360, 540)) <= 10  # the ground
    assert image.crop((600, 520, 719, 575)).getextrema()[1] <= 10


def test_images_are_deterministic_and_previews_small() -> None:
    def render(seed: int) -> bytes:
        return sky_images.png_bytes(sky_images.meteor_frame(random.Random(seed), (10, 10), (200, 90), 200))

    assert render(5) == render(5) and render(5) != render(6)
    preview = _decode(sky_images.jpeg_bytes(sky_images.preview(_decode(render(5)))))
    assert preview.format == "JPEG" and preview.size == sky_images.PREVIEW_SIZE


def test_cloud_hides_stars() -> None:
    clear = sky_images.star_field(random.Random(3), clarity=1.0)
    cloudy = sky_images.star_field(random.Random(3), clarity=0.2)
    def bright(image: Image.Image) -> int:
        return sum(image.histogram()[121:])

    assert bright(cloudy) < bright(clear) / 2


# -- the plan ----------------------------------------------------------------------------

def test_the_plan_is_deterministic() -> None:
    first, second = plan_network(seed=7, cameras=3, nights=2), plan_network(seed=7, cameras=3, nights=2)
    assert first.summary() == second.summary()
    event_a, event_b = first.cameras[0].events[0], second.cameras[0].events[0]
    assert event_a.meta == event_b.meta and event_a.render() == event_b.render()
    assert plan_network(seed=8, cameras=3, nights=2).summary() != first.summary()


def test_the_plan_is_plausible() -> None:
    network = plan_network(seed=2, cameras=len(SITES), nights=3, start=date(2024, 8, 11))
    summary = network.summary()
    assert summary["cameras"] == 8 and len(set(summary["camera_ids"])) == 8
    assert summary["events"] > 0 and summary["by_shower"]["PER"] > summary["by_shower"].get("KCG", 0)
    for camera in network.cameras:
        assert len(camera.camera_id) == 12 and camera.camera_id.startswith("b827eb")
        assert len(camera.statuses) >= 2
        assert all(s.regions for s in camera.statuses)
        # The browse page's "website" link: the observatory's real site, not a made-up domain.
        assert {s.inst_url for s in camera.statuses} == {camera.site.url}
        timeline = camera.timeline()
        assert [t for t, _, _ in timeline] == sorted(t for t, _, _ in timeline)
        assert isinstance(timeline[0][2], model.CameraStatus)
        for event in camera.events:
            keys = {str(m.key) for m in event.meta}
            assert {"meteorpi:duration", "meteorpi:peak_brightness", "meteorpi:path_length",
                    "meteorpi:start_x", "meteorpi:start_y", "meteorpi:end_x", "meteorpi:end_y"} <= keys
            assert date(2024, 8, 11) <= event.time.date() <= date(2024, 8, 14)
            assert [f.semantic_type for f in event.files] == ["meteorpi:meteor_image", "meteorpi:meteor_preview"]
    assert all(site.url.startswith("https://") and ".example" not in site.url for site in SITES)
    assert len({site.url for site in SITES}) == len(SITES)
    with pytest.raises(ValueError, match="cameras"):
        plan_network(cameras=9)
    with pytest.raises(ValueError, match="nights"):
        plan_network(nights=0)


# -- demo on a real node -----------------------------------------------------------------

def _count(db, search) -> int:
    search.limit = 1
    found = db.search_events(search) if isinstance(search, model.EventSearch) else db.search_files(search)
    return found["count"]


def test_demo_creates_what_it_says(cli: Cli, node_db) -> None:
    summary = as_json(cli("--json", "demo", "--cameras", "2", "--nights", "2", "--seed", "3",
                          "--admin-password", "demo-password"))
    db = node_db
    assert db.get_cameras() == sorted(summary["camera_ids"])
    assert summary["status_blocks"] == sum(len(db.get_camera_status_history(c)) for c in db.get_cameras())
    assert _count(db, model.EventSearch()) == summary["events"]
    assert _count(db, model.EventSearch(event_type=EVENT_TYPE)) == summary["events"]
    assert _count(db, model.FileRecordSearch()) == summary["files"]
    assert _count(db, model.FileRecordSearch(exclude_events=True)) == summary["standalone_files"]
    for semantic_type, count in summary["by_semantic_type"].items():
        assert _count(db, model.FileRecordSearch(semantic_type=semantic_type)) == count
    for shower, count in summary["by_shower"].items():
        assert _count(db, model.EventSearch(meta_constraints=[
            model.MetaConstraint("string_equals", "meteorpi:shower", shower)])) == count
    for camera_id, counts in summary["per_camera"].items():
        assert _count(db, model.EventSearch(camera_ids=[camera_id])) == counts["events"]
        assert _count(db, model.FileRecordSearch(camera_ids=[camera_id])) == counts["files"]
    files = db.search_files(model.FileRecordSearch(limit=0))["files"]
    assert sum(f.file_size for f in files) == summary["content_bytes"]
    assert min(f.file_time for f in files) == model.milliseconds_to_utc_datetime(summary["first_time"])
    assert db.get_user("admin", "demo-password").get_roles() == ["user", "camera_admin", "import"]
    sky = db.search_files(model.FileRecordSearch(semantic_type="meteorpi:sky_clarity", limit=1))["files"][0]
    assert sky.mime_type == "image/png" and str(sky.meta[0].key) == "meteorpi:sky_clarity"
    assert _decode(Path(db.file_path_for_id(sky.file_id)).read_bytes()).size == (720, 576)
    event = db.search_events(model.EventSearch(limit=1))["events"][0]
    assert event.status_id == db.get_camera_status(event.event_time, event.camera_id).status_id
    for camera_id in summary["camera_ids"]:
        assert db.get_high_water_mark(camera_id) == max(
            f.file_time for f in files if f.camera_id == camera_id)
    assert cli("fsck").output.startswith(f"Checked {summary['files']} files: 0 with problems")
    assert "already has cameras" in error_line(cli("demo", "--cameras", "1", "--nights", "1", expect=1))


def test_same_seed_same_content(cli: Cli, node_db, tmp_path: Path) -> None:
    """Two demo runs with one seed hold the same records and byte-identical files."""
    args = ["--json", "demo", "--cameras", "1", "--nights", "1", "--seed", "11", "--admin-password", "x-password"]
    first = as_json(cli(*args))
    other = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "other"), *args])
    assert other.exit_code == 0, other.output
    second = as_json(other)
    assert first == second

    def fingerprint(db) -> list[tuple]:
        return sorted((f.file_time, f.file_name, f.md5, f.file_size)
                      for f in db.search_files(model.FileRecordSearch(limit=0))["files"])

    from meteorpi_fdb import MeteorDatabase

    with MeteorDatabase(str(tmp_path / "other" / "meteorpi.db"), str(tmp_path / "other" / "files")) as copy:
        assert fingerprint(copy) == fingerprint(node_db)
    for md5 in {f[2] for f in fingerprint(node_db)}:
        assert len(md5) == 32


def test_demo_text_summary(cli: Cli) -> None:
    text = cli("demo", "--cameras", "1", "--nights", "1", "--seed", "4", "--admin-user", "boss",
               "--admin-password", "pw-password").stdout
    assert text.startswith("Demo network (seed 4): 1 camera, 1 night from 2024-08-11")
    assert "admin user boss password pw-password (roles user, camera_admin, import)" in text


def test_demo_content_matches_the_plan(cli: Cli, node_db) -> None:
    network = plan_network(seed=5, cameras=1, nights=1)
    cli("demo", "--cameras", "1", "--nights", "1", "--seed", "5", "--admin-password", "pw-password")
    camera = network.cameras[0]
    first_event: DemoEvent = camera.events[0]
    expected = [hashlib.md5(content).hexdigest() for content in first_event.render()]
    stored = node_db.search_events(model.EventSearch(camera_ids=[camera.camera_id], limit=0))["events"][-1]
    assert stored.event_time == first_event.time
    assert sorted(f.md5 for f in stored.file_records) == sorted(expected)
    summary_file: DemoFile = camera.files[-1]
    assert summary_file.semantic_type == "meteorpi:night_summary"
    text = summary_file.content().decode()
    assert f"{len(camera.events)} meteor events" in text
