// Cameras (web/camera) and one camera (web/camera?id=<camera_id>[&night=YYYY-MM-DD]): its status
// and charts of the activity API (trigger rate per night and per hour, sky clarity, calendar).
import {$, DAY_MS, HOUR_MS, chrome, el, formatNumber, formatUTC, getJSON, hemisphere, isoDate,
        loadCameras, nightRange, onNavigate, pageUrl, parseDate, readParams, safeHttpUrl,
        searchPath, setStatus, svg, timeElement, writeParams, cameraName} from "./app.js";
import {barChart, calendar} from "./charts.js";

const CLARITY = "meteorpi:sky_clarity";

function activity(kind, search, bin, mean) {
  const query = "?bin=" + bin + (mean ? "&mean=" + encodeURIComponent(mean) : "");
  return getJSON(searchPath("activity/" + kind + "/", search) + query);
}

function statusFacts(status) {
  const rows = [];
  const add = (label, value) => { if (value !== null && value !== undefined && value !== "") rows.push(el("dt", {}, label), el("dd", {}, value)); };
  const loc = status.location || {};
  const o = status.orientation || {};
  const url = safeHttpUrl(status.inst_url);
  add("instrument", status.inst_name);
  add("website", url ? el("a", {href: url, rel: "noopener noreferrer"}, url) : status.inst_url);
  add("lens", status.lens);
  add("sensor", status.sensor);
  add("location", hemisphere(loc.lat, "N", "S", 4) + ", " + hemisphere(loc.long, "E", "W", 4)
      + (loc.gps ? " (GPS" : " (not GPS") + (typeof loc.error === "number" ? ", \u00b1" + formatNumber(loc.error) + " m)" : ")"));
  add("orientation", typeof o.alt === "number"
      ? "altitude " + formatNumber(o.alt) + "\u00b0, azimuth " + formatNumber(o.az) + "\u00b0, rotation "
        + formatNumber(o.rot) + "\u00b0, field width " + formatNumber(o.width) + "\u00b0, error \u00b1" + formatNumber(o.error) + "\u00b0"
      : null);
  add("software version", status.software_version);
  add("status valid from", timeElement(status.valid_from));
  add("visible-sky regions", (status.regions || []).length ? (status.regions || []).length + " (drawn below)" : "none");
  return el("dl", {class: "facts"}, rows);
}

/** The visible-sky regions as polygons over the camera's frame (pixels, origin top-left). */
function regionsDrawing(regions) {
  if (!regions || !regions.length) return null;
  const xs = regions.flat().map((p) => p.x), ys = regions.flat().map((p) => p.y);
  const w = Math.max(720, ...xs), h = Math.max(576, ...ys);
  return svg("svg", {class: "chart", viewBox: "0 0 " + w + " " + h, width: 360, height: Math.round(360 * h / w),
                     role: "img", "aria-label": regions.length + " visible-sky regions on the " + w + "\u00d7" + h + " frame"},
    svg("rect", {x: 0, y: 0, width: w, height: h, fill: "#03060e", stroke: "#2a3a62"}),
    regions.map((points, i) => svg("polygon", {points: points.map((p) => p.x + "," + p.y).join(" "),
                                               fill: "#7cc4ff33", stroke: "#7cc4ff", "stroke-width": 3},
                                   svg("title", {}, "region " + (i + 1) + ": " + points.length + " points"))));
}

function nightPoints(bins, value) {
  if (!bins.length) return [];
  const byStart = new Map(bins.map((b) => [b.start, b]));
  const points = [];
  for (let start = bins[0].start; start <= bins[bins.length - 1].start; start += DAY_MS) {
    const bin = byStart.get(start);
    const name = isoDate(start);
    points.push({key: start, label: "night of " + name, short: name.slice(8), value: bin ? value(bin) : (value === count ? 0 : null)});
  }
  return points;
}
const count = (b) => b.count;

async function showCamera(id, cameras) {
  const found = cameras.find((c) => c.id === id);
  $("camera").classList.remove("hidden");
  $("camera-list").replaceChildren();
  $("title").textContent = cameraName(cameras, id) + " \u00b7 " + id;
  document.title = cameraName(cameras, id) + " \u00b7 MeteorPi";
  $("camera-status").replaceChildren(
    el("h2", {}, "Status"),
    ...(found && found.status ? [statusFacts(found.status), regionsDrawing(found.status.regions) || ""]
                              : [el("p", {class: "muted"}, "No status recorded.")]),
    el("p", {}, el("a", {href: pageUrl("", {camera: id})}, "Gallery of this camera"), " \u00b7 ",
       el("a", {href: pageUrl("search", {kind: "events", cameras: id})}, "Search its events")));
  const search = {camera_ids: [id]};
  const [events, clarity, files] = await Promise.all([
    activity("events", search, "night"),
    activity("files", {...search, semantic_type: CLARITY}, "night", CLARITY),
    activity("files", search, "night"),
  ]);
  $("chart-night").append(barChart(nightPoints(events.bins, count), {
    caption: events.total + " meteor triggers on " + events.bins.length + (events.bins.length === 1 ? " night" : " nights"), id: "triggers-per-night",
    keyLabel: "night (UTC)", valueLabel: "triggers"}));
  $("chart-clarity").append(barChart(nightPoints(clarity.bins, (b) => b.mean), {
    caption: "Mean sky clarity of " + clarity.total + " sky images", id: "clarity-per-night", unit: " %", max: 100,
    className: "bar-clarity", keyLabel: "night (UTC)", valueLabel: "mean sky clarity"}));
  const nights = new Map();
  for (const b of [...events.bins, ...files.bins]) nights.set(isoDate(b.start), (nights.get(isoDate(b.start)) || 0) + b.count);
  $("chart-calendar").append(calendar(nights, {link: (name) => pageUrl("camera", {id, night: name})}));
  const latest = events.bins.length ? isoDate(events.bins[events.bins.length - 1].start)
    : [...nights.keys()].sort().pop();
  return latest;
}

async function showHours(id, night) {
  const old = $("triggers-per-hour");
  if (old) old.remove();
  $("night").value = night || "";
  const range = night ? nightRange(night) : null;
  if (!range) return;
  $("chart-hour").setAttribute("aria-busy", "true");
  const body = await activity("events", {camera_ids: [id], after: range[0] - 1, before: range[1]}, "hour");
  const byStart = new Map(body.bins.map((b) => [b.start, b.count]));
  const points = [];
  for (let start = range[0]; start < range[1]; start += HOUR_MS) {
    const hour = new Date(start).toISOString().slice(11, 16);
    points.push({key: start, label: formatUTC(start).slice(0, 16) + " UTC", short: hour.slice(0, 2), value: byStart.get(start) || 0});
  }
  $("hour-heading").textContent = "Meteor triggers per hour, night of " + night;
  $("chart-hour").append(barChart(points, {caption: body.total + " meteor triggers in the night of " + night + " (hours in UTC)",
    id: "triggers-per-hour", tickEvery: 2, keyLabel: "hour (UTC)", valueLabel: "triggers"}));
  $("chart-hour").setAttribute("aria-busy", "false");
}

function cameraList(cameras) {
  $("camera-list").replaceChildren(...cameras.map((c) => el("article", {class: "camera", "data-camera-id": c.id},
    el("a", {class: "name", href: pageUrl("camera", {id: c.id})}, cameraName(cameras, c.id)),
    el("span", {class: "id mono"}, c.id),
    c.status ? el("dl", {class: "facts"},
      el("dt", {}, "location"), el("dd", {}, hemisphere((c.status.location || {}).lat, "N", "S", 3) + ", "
                                            + hemisphere((c.status.location || {}).long, "E", "W", 3)),
      el("dt", {}, "lens"), el("dd", {}, c.status.lens || "?")) : el("p", {class: "muted"}, "no status"))));
  if (!cameras.length) $("camera-list").replaceChildren(el("p", {class: "muted"}, "No cameras have reported yet."));
}

async function main() {
  chrome("camera");
  const params = readParams();
  const id = params.get("id");
  let cameras;
  try {
    cameras = await loadCameras();
  } catch (error) {
    setStatus("status", "Could not load the cameras: " + error.message, true);
    return;
  }
  if (!id) {
    cameraList(cameras);
    return;
  }
  if (!cameras.some((c) => c.id === id)) {
    setStatus("status", "This node has no camera " + id + ".", true);
    cameraList(cameras);
    return;
  }
  let latest;
  try {
    latest = await showCamera(id, cameras);
  } catch (error) {
    setStatus("status", "Could not load this camera's activity: " + error.message, true);
    return;
  }
  $("night-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (Number.isNaN(parseDate($("night").value)) || !$("night").value) {
      setStatus("status", "Write the night as YYYY-MM-DD (UTC).", true);
      return;
    }
    const next = readParams();
    next.set("night", $("night").value);
    writeParams(next);
    render();
  });
  const render = () => {
    const night = readParams().get("night");
    const chosen = night && parseDate(night) > 0 ? night : latest;
    showHours(id, chosen).then(() => setStatus("status", ""), (error) => {
      $("chart-hour").setAttribute("aria-busy", "false");
      setStatus("status", "Could not load the hourly activity: " + error.message, true);
    });
  };
  onNavigate(render);
}

main();
