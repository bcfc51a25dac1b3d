"""A simulated camera network, planned deterministically from a seed (no I/O here).

:func:`plan_network` decides everything the ``demo`` command stores: cameras at real
observatory sites, two or more status blocks each, nights of meteor events around the
Perseid maximum with their images, and stand-alone files (hourly sky-clarity snapshots and a
nightly text summary). Images are rendered lazily, each from its own seeded generator, so the
same seed gives the same content whatever order things are stored in.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

import meteorpi_model as model
from meteorpi_cli import demo_meteors, sky_images
from meteorpi_cli.sky_images import HEIGHT, WIDTH

EVENT_TYPE = "meteorpi:meteor"
DEFAULT_START = date(2024, 8, 11)  # three nights around the 2024 Perseid maximum
PERSEID_PEAK = datetime(2024, 8, 12, 14, 0, tzinfo=timezone.utc)
FRAME_RATE = 25
RASPBERRY_PI_OUI = "b827eb"


@dataclass(frozen=True)
class Site:
    """A real observatory the demo puts cameras at; ``url`` is its real web site (the cameras'
    ``inst_url``, the browse page's "website" link)."""

    name: str
    slug: str
    latitude: float
    longitude: float
    url: str


SITES = (
    Site("Institute of Astronomy, Cambridge", "cambridge", 52.2130, 0.0944, "https://www.ast.cam.ac.uk/"),
    Site("Royal Observatory Greenwich", "greenwich", 51.4769, -0.0005, "https://www.rmg.co.uk/royal-observatory"),
    Site("Jodrell Bank Observatory", "jodrell-bank", 53.2369, -2.3075, "https://www.jodrellbank.net/"),
    Site("Armagh Observatory", "armagh", 54.3527, -6.6496, "https://armagh.space/"),
    Site("Kielder Observatory", "kielder", 55.2323, -2.6166, "https://www.kielderobservatory.org/"),
    Site("Observatoire de Haute-Provence", "haute-provence", 43.9317, 5.7125,
         "https://en.wikipedia.org/wiki/Haute-Provence_Observatory"),
    Site("Calar Alto Observatory", "calar-alto", 37.2236, -2.5461, "https://www.caha.es/"),
    Site("Ondřejov Observatory", "ondrejov", 49.9105, 14.7812, "https://www.asu.cas.cz/"),
)
LENSES = ("Fujinon YV2.7x2.2 2.2mm f/1.2", "Computar 3.8mm f/0.8", "Tamron 13FM22IR 2.2mm f/1.2")
SENSORS = ("Watec 902H2 Ultimate", "Watec 910HX/RC", "Sony IMX291 starlight")
# IAU codes: Perseids, kappa Cygnids, sporadic background
SHOWERS = ("PER", "KCG", "SPO")


@dataclass
class DemoFile:
    """A file to register: its record's fields and a function that renders its content."""

    time: datetime
    semantic_type: str
    mime_type: str
    file_name: str
    meta: list[model.Meta]
    content: Callable[[], bytes]

    def render(self) -> list[bytes]:
        return [self.content()]


@dataclass
class DemoEvent:
    """An event, its files' records, and a function that renders all their contents at once."""

    time: datetime
    meta: list[model.Meta]
    files: list[DemoFile]
    contents: Callable[[], list[bytes]]
    #: index (within its night) of the simulated meteor other cameras saw too, if any
    shared: int | None = None

    def render(self) -> list[bytes]:
        """The content of each of ``files``, in order."""
        return self.contents()


@dataclass
class DemoCamera:
    camera_id: str
    site: Site
    statuses: list[model.CameraStatus]
    events: list[DemoEvent] = field(default_factory=list)
    files: list[DemoFile] = field(default_factory=list)

    def timeline(self) -> list[tuple[datetime, int, Any]]:
        """Status blocks, stand-alone files and events in time order (statuses first on ties).

        Storing them in this order never moves the camera's high water mark backwards.
        """
        items = [(s.valid_from, 0, s) for s in self.statuses]
        items += [(f.time, 1, f) for f in self.files]
        items += [(e.time, 2, e) for e in self.events]
        return sorted(items, key=lambda item: (item[0], item[1]))


@dataclass
class DemoNetwork:
    seed: int
    start: date
    nights: int
    cameras: list[DemoCamera]

    def summary(self) -> dict[str, Any]:
        """What the network holds, as the ``demo`` command reports it."""
        events = [e for c in self.cameras for e in c.events]
        event_files = [f for e in events for f in e.files]
        standalone = [f for c in self.cameras for f in c.files]
        times = [e.time for e in events] + [f.time for f in standalone]
        showers = Counter(_meta_value(e, "meteorpi:shower") for e in events)
        return {
            "seed": self.seed,
            "start_night": self.start.isoformat(),
            "nights": self.nights,
            "cameras": len(self.cameras),
            "camera_ids": [c.camera_id for c in self.cameras],
            "status_blocks": sum(len(c.statuses) for c in self.cameras),
            "events": len(events),
            "files": len(event_files) + len(standalone),
            "event_files": len(event_files),
            "standalone_files": len(standalone),
            "by_semantic_type": dict(sorted(Counter(
                f.semantic_type for f in event_files + standalone).items())),
            "by_shower": dict(sorted(showers.items())),
            "multi_station_events": sum(1 for e in events if e.shared is not None),
            "per_camera": {c.camera_id: {"site": c.site.name, "events": len(c.events),
                                         "files": len(c.files) + sum(len(e.files) for e in c.events)}
                           for c in self.cameras},
            "first_time": min(times) if times else None,
            "last_time": max(times) if times else None,
        }


def plan_network(seed: int = 1, cameras: int = 4, nights: int = 3,
                 start: date = DEFAULT_START) -> DemoNetwork:
    """Plan a network of ``cameras`` cameras observing ``nights`` nights from ``start``."""
    if not 1 <= cameras <= len(SITES):
        raise ValueError(f"cameras must be between 1 and {len(SITES)}, got {cameras}")
    if not 1 <= nights <= 366:
        raise ValueError(f"nights must be between 1 and 366, got {nights}")
    rng = random.Random(seed)
    sites = rng.sample(SITES, cameras)
    planned = []
    for index, site in enumerate(sites):
        camera_id = RASPBERRY_PI_OUI + f"{rng.getrandbits(24):06x}"
        planned.append(DemoCamera(camera_id, site,
                                  _statuses(rng, camera_id, site, start, nights, index)))
    sharing = [c for c in planned if c.site.slug in demo_meteors.UK_SITES]
    for night in range(nights):
        evening = start + timedelta(days=night)
        shared = _shared_meteors(seed, evening, sharing) if len(sharing) >= 2 else {}
        for camera in planned:
            _plan_night(camera, seed, evening, shared.get(camera.camera_id, []))
    return DemoNetwork(seed, start, nights, planned)


def _shared_meteors(seed: int, evening: date,
                    cameras: list[DemoCamera]) -> dict[str, list[demo_meteors.SharedSighting]]:
    midnight = _dark_hours(cameras[0].site, evening)[0] + timedelta(hours=2)
    rates = _rates(midnight)
    expected = 2.0 + 0.6 * rates["PER"]
    return demo_meteors.plan_shared(seed, evening, cameras, expected, rates,
                                    lambda camera: _dark_hours(camera.site, evening))


# -- camera status ----------------------------------------------------------------------

def _statuses(rng: random.Random, camera_id: str, site: Site, start: date, nights: int,
              index: int) -> list[model.CameraStatus]:
    """Installation two months before the first night, then a re-alignment mid-run."""
    installed = _noon(start) - timedelta(days=60 + rng.randrange(30))
    realigned = _noon(start + timedelta(days=nights // 2)) if nights > 1 else _noon(start) - timedelta(days=7)
    location = model.Location(round(site.latitude + rng.uniform(-0.001, 0.001), 5),
                              round(site.longitude + rng.uniform(-0.001, 0.001), 5),
                              gps=True, error=round(rng.uniform(3, 12), 1))
    azimuth = round(rng.uniform(0, 359), 1)
    altitude = round(rng.uniform(45, 70), 1)
    if site.slug in demo_meteors.UK_SITES:  # aimed at the sky the UK cameras share
        azimuth, altitude = demo_meteors.aim(location.latitude, location.longitude)
    horizon = _horizon(rng)
    first = model.CameraStatus(
        lens=LENSES[index % len(LENSES)], sensor=SENSORS[index % len(SENSORS)],
        inst_url=site.url,
        inst_name=f"{site.name} MeteorPi", camera_id=camera_id,
        orientation=model.Orientation(altitude, azimuth, error=2.0, rotation=round(rng.uniform(-3, 3), 2),
                                      width_of_field=round(rng.uniform(60, 90), 1)),
        location=location, software_version=1, valid_from=installed, regions=[horizon])
    second_regions = [_horizon(rng)]
    if rng.random() < 0.5:  # a patch of sky seen between two rooftops
        second_regions.append([(40, 470), (120, 470), (110, 520), (50, 520)])
    second = model.CameraStatus(
        lens=first.lens, sensor=first.sensor, inst_url=first.inst_url, inst_name=first.inst_name,
        camera_id=camera_id,
        orientation=model.Orientation(round(altitude + rng.uniform(-2, 2), 1),
                                      round((azimuth + rng.uniform(-5, 5)) % 360, 1), error=0.4,
                                      rotation=round(rng.uniform(-1, 1), 2),
                                      width_of_field=first.orientation.width_of_field),
        location=location, software_version=2, valid_from=realigned, regions=second_regions)
    return [first, second]


def _horizon(rng: random.Random) -> list[tuple[int, int]]:
    """The visible sky: the whole frame above a bumpy line of trees and roofs."""
    points = [(0, 0), (WIDTH - 1, 0)]
    x = WIDTH - 1
    while x > 0:
        points.append((x, rng.randrange(420, 540)))
        x -= rng.randrange(60, 160)
    points.append((0, rng.randrange(420, 540)))
    return points


# -- nights -----------------------------------------------------------------------------

def _dark_hours(site: Site, evening: date) -> tuple[datetime, datetime]:
    """Dusk and dawn: centred on local solar midnight; shorter the further north in summer."""
    midnight = datetime.combine(evening + timedelta(days=1), time(0), timezone.utc) \
        - timedelta(hours=site.longitude / 15)
    half_night = timedelta(hours=min(5.0, max(2.5, 5.5 - (site.latitude - 35) * 0.12)))
    return midnight - half_night, midnight + half_night


def _rates(midnight: datetime) -> dict[str, float]:
    """Meteors per hour of each shower on the night of ``midnight``."""
    return {"PER": 10 * math.exp(-(((midnight - PERSEID_PEAK) / timedelta(days=1)) / 1.5) ** 2),
            "KCG": 0.6, "SPO": 4.0}


def _plan_night(camera: DemoCamera, seed: int, evening: date,
                shared: list[demo_meteors.SharedSighting]) -> None:
    rng = random.Random(f"{seed}:{camera.camera_id}:{evening.isoformat()}")
    dusk, dawn = _dark_hours(camera.site, evening)
    midnight = dusk + (dawn - dusk) / 2
    half_night = (dawn - dusk) / 2
    clarity = rng.choice((1.0, 0.95, 0.9, 0.8, 0.6, 0.3)) * rng.uniform(0.9, 1.0)
    regions = _regions_at(camera, dusk)
    hours = []
    hour = dusk.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while hour < dawn:
        hourly = round(100 * min(1.0, max(0.0, clarity + rng.uniform(-0.15, 0.1))), 1)
        hours.append(hourly)
        camera.files.append(_sky_clarity_file(seed, camera, hour, hourly, regions))
        hour += timedelta(hours=1)
    rates = _rates(midnight)
    expected = sum(rates.values()) * clarity * (half_night / timedelta(hours=4))
    count = _poisson(rng, expected)
    # Meteor rates rise towards dawn: density growing linearly through the night.
    times = sorted(model.to_utc(dusk + (dawn - dusk) * math.sqrt(rng.random())) for _ in range(count))
    night_events = []
    for event_time in times:
        shower = rng.choices(SHOWERS, weights=[rates[s] for s in SHOWERS])[0]
        night_events.append(_event(seed, camera, event_time, shower, clarity, regions, rng))
    for seen in shared:  # meteors that other cameras saw too
        night_events.append(_shared_event(seed, camera, seen, clarity, rng))
    night_events.sort(key=lambda e: e.time)
    camera.events.extend(night_events)
    mean_clarity = round(sum(hours) / len(hours), 1) if hours else 0.0
    camera.files.append(_summary_file(camera, evening, model.to_utc(dawn), night_events, mean_clarity))


def _regions_at(camera: DemoCamera, when: datetime) -> list[list[tuple[int, int]]]:
    in_force = [s for s in camera.statuses if s.valid_from <= when]
    status = in_force[-1] if in_force else camera.statuses[0]
    return [[(p["x"], p["y"]) for p in polygon] for polygon in status.regions]


def _event(seed: int, camera: DemoCamera, event_time: datetime, shower: str, clarity: float,
           regions, rng: random.Random) -> DemoEvent:
    duration = round(rng.uniform(0.2, 1.0) if shower == "PER" else rng.uniform(0.3, 2.0), 3)
    magnitude = round(max(-6.0, 4.5 - rng.expovariate(0.79)), 1)
    speed = rng.uniform(250, 400) if shower == "PER" else rng.uniform(100, 250)
    start = (rng.randrange(40, WIDTH - 40), rng.randrange(30, 380))
    angle = rng.uniform(0, 2 * math.pi)
    length = 40 + duration * speed
    end = (int(min(WIDTH - 5, max(5, start[0] + length * math.cos(angle)))),
           int(min(400, max(5, start[1] + length * math.sin(angle)))))
    return _render_event(seed, camera, event_time, shower, clarity, regions, rng, start, end,
                         duration, magnitude)


def _shared_event(seed: int, camera: DemoCamera, seen: demo_meteors.SharedSighting,
                  clarity: float, rng: random.Random) -> DemoEvent:
    event = _render_event(seed, camera, seen.time, seen.shower, clarity,
                          _regions_at(camera, seen.time), rng, seen.start, seen.end,
                          max(seen.duration, 0.04), seen.magnitude)
    event.shared = seen.meteor
    return event


def _render_event(seed: int, camera: DemoCamera, event_time: datetime, shower: str,
                  clarity: float, regions, rng: random.Random, start: tuple[int, int],
                  end: tuple[int, int], duration: float, magnitude: float) -> DemoEvent:
    peak_brightness = int(min(255, max(80, 120 + (4.5 - magnitude) * 30)))
    frames = max(3, round(duration * FRAME_RATE))
    stamp = event_time.strftime("%Y%m%d_%H%M%S_%f")[:-3]
    caption = f"{camera.camera_id}  {_stamp(event_time)}"
    frame_seed = f"{seed}:{camera.camera_id}:{event_time.isoformat()}"

    def render() -> list[bytes]:
        frame = sky_images.meteor_frame(random.Random(frame_seed), start, end, peak_brightness,
                                        clarity, visible_sky=regions, caption=caption)
        return [sky_images.png_bytes(frame), sky_images.jpeg_bytes(sky_images.preview(frame))]

    image = DemoFile(event_time, "meteorpi:meteor_image", "image/png",
                     f"{camera.camera_id}_{stamp}_meteor.png",
                     [model.Meta("meteorpi:width", WIDTH), model.Meta("meteorpi:height", HEIGHT),
                      model.Meta("meteorpi:stacked_frames", frames)], lambda: render()[0])
    width, height = sky_images.PREVIEW_SIZE
    preview = DemoFile(event_time, "meteorpi:meteor_preview", "image/jpeg",
                       f"{camera.camera_id}_{stamp}_preview.jpg",
                       [model.Meta("meteorpi:width", width), model.Meta("meteorpi:height", height)],
                       lambda: render()[1])
    meta = [
        model.Meta("meteorpi:duration", duration),
        model.Meta("meteorpi:magnitude", magnitude),
        model.Meta("meteorpi:peak_brightness", peak_brightness),
        model.Meta("meteorpi:path_length", round(math.dist(start, end), 1)),
        model.Meta("meteorpi:start_x", start[0]), model.Meta("meteorpi:start_y", start[1]),
        model.Meta("meteorpi:end_x", end[0]), model.Meta("meteorpi:end_y", end[1]),
        model.Meta("meteorpi:frame_count", frames),
        model.Meta("meteorpi:shower", shower),
        model.Meta("meteorpi:peak_time", event_time + timedelta(seconds=duration * rng.uniform(0.5, 0.8))),
    ]
    return DemoEvent(event_time, meta, [image, preview], render)


def _stamp(when: datetime) -> str:
    """The time stamp the cameras burn into their frames and night summaries."""
    return when.strftime("%Y-%m-%d %H:%M:%S") + "Z"


def _sky_clarity_file(seed: int, camera: DemoCamera, when: datetime, clarity: float,
                      regions) -> DemoFile:
    caption = f"{camera.camera_id}  {_stamp(when)}  sky clarity {clarity:.0f}%"

    def render() -> bytes:
        rng = random.Random(f"{seed}:{camera.camera_id}:sky:{when.isoformat()}")
        return sky_images.png_bytes(sky_images.star_field(rng, clarity=clarity / 100,
                                                          visible_sky=regions, caption=caption))

    return DemoFile(model.to_utc(when), "meteorpi:sky_clarity", "image/png",
                    f"{camera.camera_id}_{when:%Y%m%d_%H%M}_sky.png",
                    [model.Meta("meteorpi:sky_clarity", clarity)], render)


def _summary_file(camera: DemoCamera, evening: date, dawn: datetime, events: list[DemoEvent],
                  mean_clarity: float) -> DemoFile:
    def render() -> bytes:
        lines = [f"MeteorPi night summary: camera {camera.camera_id} at {camera.site.name}",
                 f"night of {evening.isoformat()}, mean sky clarity {mean_clarity}%",
                 f"{len(events)} meteor events", ""]
        for event in events:
            lines.append(f"{_stamp(event.time)}  {_meta_value(event, 'meteorpi:shower')}  "
                         f"mag {_meta_value(event, 'meteorpi:magnitude'):+.1f}  "
                         f"{_meta_value(event, 'meteorpi:duration'):.2f}s")
        return ("\n".join(lines) + "\n").encode("utf-8")

    return DemoFile(dawn, "meteorpi:night_summary", "text/plain",
                    f"{camera.camera_id}_{evening:%Y%m%d}_summary.txt",
                    [model.Meta("meteorpi:event_count", len(events)),
                     model.Meta("meteorpi:mean_sky_clarity", mean_clarity)], render)


def _meta_value(event: DemoEvent, key: str) -> Any:
    return next(m.value for m in event.meta if str(m.key) == key)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), timezone.utc)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; means here are small)."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
