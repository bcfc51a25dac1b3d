// The gallery (web/, also reached from / and /browse): cameras, then events, multi-station
// meteors or sky images, newest first, as thumbnails; filtered by camera and observing night.
import {$, chrome, cameraName, contentUrl, el, formatNumber, formatSize, getJSON, hemisphere,
        imageFile, loadCameras, metaLabel, metaList, metaValue, nightRange, onNavigate, pageUrl,
        parseDate, readParams, safeHttpUrl, searchPath, setStatus, svg, thumbnail,
        timeElement, writeParams, formatUTC} from "./app.js";

const TABS = {
  events: {route: "events/", key: "events", noun: "events"},
  sky: {route: "files/", key: "files", noun: "sky images", semantic_type: "meteorpi:sky_clarity"},
  groups: {route: "coincidences/", key: "coincidences", noun: "multi-station meteors"},
};
const LIMITS = [12, 24, 48, 96];
const PREFERRED = ["meteorpi:meteor_image", "meteorpi:meteor_preview"];
let cameras = [];
let generation = 0;

function readState() {
  const params = readParams();
  const page = parseInt(params.get("page") || "1", 10);
  const limit = parseInt(params.get("limit") || "24", 10);
  const night = (name) => (parseDate(params.get(name) || "") > 0 ? params.get(name) : "");
  return {
    tab: TABS[params.get("tab")] ? params.get("tab") : "events",
    camera: params.get("camera") || "",
    after: night("after"),
    before: night("before"),
    page: page >= 1 ? page : 1,
    limit: LIMITS.includes(limit) ? limit : 24,
  };
}

function writeState(state) {
  const defaults = {tab: "events", page: 1, limit: 24};
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(state)) {
    if (value !== "" && defaults[name] !== value) params.set(name, String(value));
  }
  writeParams(params);
  show(readState());
}

function buildSearch(state) {
  const search = {limit: state.limit, skip: (state.page - 1) * state.limit};
  if (state.camera) search.camera_ids = [state.camera];
  if (state.after) search.after = nightRange(state.after)[0] - 1;
  if (state.before) search.before = nightRange(state.before)[1];
  const semanticType = TABS[state.tab].semantic_type;
  if (semanticType) search.semantic_type = semanticType;
  return search;
}

// ---- cameras ----

function cameraCard(id, status, count) {
  const rows = [];
  const add = (label, value) => { if (value) rows.push(el("dt", {}, label), el("dd", {}, value)); };
  if (status) {
    const loc = status.location || {};
    const orient = status.orientation || {};
    add("location", hemisphere(loc.lat, "N", "S", 3) + ", " + hemisphere(loc.long, "E", "W", 3)
        + (loc.gps ? " (GPS)" : ""));
    add("lens", status.lens);
    add("sensor", status.sensor);
    if (typeof orient.alt === "number") {
      add("pointing", "alt " + formatNumber(orient.alt) + "\u00b0, az " + formatNumber(orient.az)
          + "\u00b0, field " + formatNumber(orient.width) + "\u00b0");
    }
  } else {
    add("status", "none recorded");
  }
  const url = status && safeHttpUrl(status.inst_url);
  const toggle = () => {
    const state = readState();
    writeState({...state, camera: state.camera === id ? "" : id, page: 1});
  };
  return el("article", {class: "camera", "data-camera-id": id},
    count === null ? null : el("span", {class: "count"}, count === 1 ? "1 event" : count + " events"),
    el("a", {class: "name", href: pageUrl("camera", {id})}, cameraName(cameras, id)),
    el("span", {class: "id mono"}, id),
    el("dl", {class: "facts"}, rows),
    el("div", {class: "actions"},
      el("button", {type: "button", class: "filter-toggle", onclick: toggle}, "Only this camera"),
      url ? el("a", {href: url, rel: "noopener noreferrer", target: "_blank"}, "website \u2197") : null));
}

async function showCameras() {
  cameras = await loadCameras();
  $("camera-count").textContent = cameras.length === 1 ? "1 camera" : cameras.length + " cameras";
  const counts = await Promise.all(cameras.map((c) =>
    getJSON(searchPath("events/", {camera_ids: [c.id], limit: 1})).then((b) => b.count, () => null)));
  $("camera-list").replaceChildren(...cameras.map((c, i) => cameraCard(c.id, c.status, counts[i])));
  if (!cameras.length) $("camera-list").replaceChildren(el("p", {class: "muted"}, "No cameras have reported yet."));
  $("filter-camera").replaceChildren(el("option", {value: ""}, "All cameras"),
    ...cameras.map((c) => el("option", {value: c.id}, cameraName(cameras, c.id) + " \u00b7 " + c.id)));
}

// ---- cards ----

function eventCard(event) {
  const meta = new Map((event.meta || []).map((m) => [m.key, m]));
  const image = imageFile(event.files, PREFERRED);
  const shower = meta.get("meteorpi:shower");
  const chips = [];
  const chip = (key, label, suffix) => {
    const item = meta.get(key);
    if (item) chips.push(el("span", {class: "chip"}, label + " ", el("b", {}, metaValue(item) + suffix)));
  };
  chip("meteorpi:magnitude", "mag", "");
  chip("meteorpi:duration", "", " s");
  chip("meteorpi:frame_count", "", " frames");
  const title = cameraName(cameras, event.camera_id) + ", " + formatUTC(event.event_time);
  return el("article", {class: "card event", "data-event-id": event.event_id},
    el("button", {type: "button", class: "thumb", "aria-label": "Open " + title, onclick: () => openEvent(event)},
      image ? thumbnail(image, "Meteor image from " + title) : el("span", {class: "none"}, "no image"),
      shower ? el("span", {class: "badge"}, metaValue(shower)) : null),
    el("div", {class: "body"},
      timeElement(event.event_time),
      el("span", {class: "camera-name", title: event.camera_id}, cameraName(cameras, event.camera_id)),
      chips.length ? el("div", {class: "chips"}, chips) : null,
      el("details", {},
        el("summary", {}, "metadata (" + (event.meta || []).length + ") \u00b7 " + String(event.event_type)),
        metaList(event.meta))));
}

function skyCard(file) {
  const clarity = (file.meta || []).find((m) => m.key === "meteorpi:sky_clarity");
  const title = cameraName(cameras, file.camera_id) + ", " + formatUTC(file.file_time);
  const bar = el("span");
  if (clarity && typeof clarity.value === "number") bar.style.width = Math.max(0, Math.min(100, clarity.value)) + "%";
  return el("article", {class: "card file", "data-file-id": file.file_id},
    el("a", {class: "thumb", href: contentUrl(file, true), target: "_blank", rel: "noopener", "aria-label": "Open " + title},
      thumbnail(file, "Sky from " + title)),
    el("div", {class: "body"},
      timeElement(file.file_time),
      el("span", {class: "camera-name", title: file.camera_id}, cameraName(cameras, file.camera_id)),
      clarity ? el("div", {class: "chips"}, el("span", {class: "chip"}, "sky clarity ", el("b", {}, metaValue(clarity) + "%"))) : null,
      clarity ? el("div", {class: "clarity", title: "sky clarity " + metaValue(clarity) + "%"}, bar) : null,
      el("details", {}, el("summary", {}, "details"),
        el("dl", {class: "meta"}, el("dt", {}, "file"), el("dd", {}, file.file_name || file.file_id),
           el("dt", {}, "size"), el("dd", {}, formatSize(file.file_size))),
        metaList(file.meta))));
}

function openViewer(title) {
  $("viewer-title").textContent = title;
  if (!$("viewer").open) $("viewer").showModal();
}

function openEvent(event) {
  const image = imageFile(event.files, PREFERRED);
  $("viewer-image").replaceChildren(image
    ? el("a", {href: contentUrl(image, true), target: "_blank", rel: "noopener"},
         el("img", {class: "full", src: contentUrl(image), alt: "Meteor image"}))
    : el("p", {class: "muted"}, "This event has no image."));
  $("viewer-details").replaceChildren(
    el("dl", {class: "meta"}, el("dt", {}, "event"), el("dd", {class: "mono"}, event.event_id),
       el("dt", {}, "type"), el("dd", {}, event.event_type),
       el("dt", {}, "camera"), el("dd", {}, el("a", {href: pageUrl("camera", {id: event.camera_id})}, event.camera_id))),
    metaList(event.meta),
    el("h3", {}, "Files"),
    el("ul", {class: "viewer-files"}, (event.files || []).map((f) => el("li", {},
      thumbnail(f, ""),
      el("span", {}, el("a", {href: contentUrl(f, true), target: "_blank", rel: "noopener"}, f.file_name || f.file_id),
         el("br"), el("span", {class: "muted"}, metaLabel(f.semantic_type) + ", " + formatSize(f.file_size)))))));
  openViewer(cameraName(cameras, event.camera_id) + " \u00b7 " + formatUTC(event.event_time, true));
}

// ---- multi-station meteors ----

function groundTrack(group, width, height) {
  const t = group.trajectory;
  const solved = Boolean(t && t.ok && t.begin && t.end);
  const stations = [];
  for (const id of new Set(group.members.map((m) => m.camera_id))) {
    const found = cameras.find((c) => c.id === id);
    const loc = found && found.status ? found.status.location : null;
    if (loc && typeof loc.lat === "number") stations.push({id, lat: loc.lat, lon: loc.long});
  }
  const points = stations.slice();
  if (solved) points.push({lat: t.begin.lat, lon: t.begin.lon}, {lat: t.end.lat, lon: t.end.lon});
  if (!points.length) return null;
  const k = Math.cos(points.reduce((a, p) => a + p.lat, 0) / points.length * Math.PI / 180);
  const xs = points.map((p) => p.lon * k), ys = points.map((p) => p.lat);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 0.2) * 1.3;
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const scale = (Math.min(width, height) - 24) / span;
  const X = (p) => (width / 2 + (p.lon * k - cx) * scale).toFixed(1);
  const Y = (p) => (height / 2 - (p.lat - cy) * scale).toFixed(1);
  const label = solved ? "Ground track from " + t.begin.height_km.toFixed(1) + " km to "
    + t.end.height_km.toFixed(1) + " km, seen by " + stations.length + " cameras" : "Cameras of this group";
  const root = svg("svg", {viewBox: "0 0 " + width + " " + height, class: "track", role: "img", "aria-label": label});
  for (const s of stations) {
    root.append(svg("circle", {cx: X(s), cy: Y(s), r: 3.5, fill: "#7cc4ff"}),
                svg("text", {x: X(s), y: Number(Y(s)) + 13, fill: "#9aa7c7", "font-size": 9, "text-anchor": "middle"},
                    cameraName(cameras, s.id).slice(0, 18)));
  }
  if (solved) {
    const b = {lat: t.begin.lat, lon: t.begin.lon}, e = {lat: t.end.lat, lon: t.end.lon};
    root.append(svg("line", {x1: X(b), y1: Y(b), x2: X(e), y2: Y(e), stroke: "#ffcf6e", "stroke-width": 2.5, "stroke-linecap": "round"}),
                svg("text", {x: Number(X(b)) + 6, y: Number(Y(b)) - 6, fill: "#ffcf6e", "font-size": 10}, t.begin.height_km.toFixed(1) + " km"),
                svg("text", {x: Number(X(e)) + 6, y: Number(Y(e)) + 12, fill: "#ffcf6e", "font-size": 10}, t.end.height_km.toFixed(1) + " km"));
  }
  return root;
}

function trajectoryList(t) {
  if (!t) return el("p", {class: "muted"}, "No trajectory computed yet.");
  if (!t.ok) return el("p", {class: "muted"}, "No trajectory: " + t.reason);
  const rows = [
    ["begin", t.begin.height_km.toFixed(1) + " km at " + hemisphere(t.begin.lat, "N", "S", 3) + ", " + hemisphere(t.begin.lon, "E", "W", 3)],
    ["end", t.end.height_km.toFixed(1) + " km at " + hemisphere(t.end.lat, "N", "S", 3) + ", " + hemisphere(t.end.lon, "E", "W", 3)],
    ["speed", typeof t.speed_km_s === "number" ? t.speed_km_s.toFixed(1) + " km/s" : "no frame timing"],
    ["length", typeof t.length_km === "number" ? t.length_km.toFixed(1) + " km" : "?"],
  ];
  return el("dl", {class: "meta"}, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function groupCard(group) {
  const count = new Set(group.members.map((m) => m.camera_id)).size;
  const open = () => {
    $("viewer-image").replaceChildren(groundTrack(group, 560, 420) || el("p", {class: "muted"}, "No camera positions."));
    $("viewer-details").replaceChildren(trajectoryList(group.trajectory), el("h3", {}, "Seen by"),
      el("ul", {}, group.members.map((m) => el("li", {}, cameraName(cameras, m.camera_id) + " \u00b7 " + formatUTC(m.event_time, true)))));
    openViewer("Multi-station meteor \u00b7 " + formatUTC(group.time, true));
  };
  return el("article", {class: "card group", "data-group-id": group.group_id},
    el("button", {type: "button", class: "thumb", "aria-label": "Open this multi-station meteor", onclick: open},
      groundTrack(group, 250, 200) || el("span", {class: "none"}, "no camera positions"),
      el("span", {class: "badge"}, count + " cameras")),
    el("div", {class: "body"}, timeElement(group.time),
      el("details", {}, el("summary", {}, "trajectory"), trajectoryList(group.trajectory))));
}

// ---- the list ----

function showError(text) {
  setStatus("status", text, true);
  $("gallery").replaceChildren();
  $("page-info").textContent = "";
  $("prev").disabled = $("next").disabled = true;
}

async function show(state) {
  const mine = ++generation;
  const tab = TABS[state.tab];
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === state.tab));
  }
  for (const card of document.querySelectorAll(".camera")) {
    const selected = card.dataset.cameraId === state.camera;
    card.classList.toggle("selected", selected);
    card.querySelector(".filter-toggle").textContent = selected ? "Show every camera" : "Only this camera";
  }
  $("filter-camera").value = state.camera;
  $("filter-after").value = state.after;
  $("filter-before").value = state.before;
  $("filter-limit").value = String(state.limit);
  if (state.after && state.before && state.after > state.before) {
    showError("\u201cFrom night\u201d must not be after \u201cTo night\u201d.");
    return;
  }
  setStatus("status", "Loading " + tab.noun + "\u2026");
  $("gallery").setAttribute("aria-busy", "true");
  let body;
  try {
    body = await getJSON(searchPath(tab.route, buildSearch(state)));
  } catch (e) {
    if (mine === generation) showError("Could not load " + tab.noun + ": " + e.message);
    if (mine === generation) $("gallery").setAttribute("aria-busy", "false");
    return;
  }
  if (mine !== generation) return;
  const items = body[tab.key] || [];
  const first = (state.page - 1) * state.limit;
  const card = {events: eventCard, sky: skyCard, groups: groupCard}[state.tab];
  $("gallery").replaceChildren(...items.map(card));
  setStatus("status", items.length
    ? "Showing " + tab.noun + " " + (first + 1) + "\u2013" + (first + items.length) + " of " + body.count + ", newest first"
    : body.count ? "No " + tab.noun + " on this page." : "No " + tab.noun + " match these filters.");
  $("page-info").textContent = "page " + state.page + " of " + Math.max(1, Math.ceil(body.count / state.limit));
  $("prev").disabled = state.page <= 1;
  $("next").disabled = first + items.length >= body.count;
  $("gallery").setAttribute("aria-busy", "false");
}

function init() {
  chrome("");
  // Old links (/#tab=sky&camera=...) carried the state in the fragment.
  if (location.hash.length > 1 && !location.search) {
    writeParams(new URLSearchParams(location.hash.slice(1)), true);
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    for (const id of ["filter-after", "filter-before"]) {
      if (!$(id).checkValidity() || Number.isNaN(parseDate($(id).value))) {
        showError("Nights are written YYYY-MM-DD (UTC).");
        $(id).focus();
        return;
      }
    }
    writeState({...readState(), camera: $("filter-camera").value, after: $("filter-after").value,
                before: $("filter-before").value, limit: parseInt($("filter-limit").value, 10), page: 1});
  });
  $("filter-reset").addEventListener("click", () => writeState(
    {tab: readState().tab, camera: "", after: "", before: "", page: 1, limit: 24}));
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.addEventListener("click", () => writeState({...readState(), tab: button.dataset.tab, page: 1}));
  }
  $("prev").addEventListener("click", () => { const s = readState(); writeState({...s, page: s.page - 1}); });
  $("next").addEventListener("click", () => { const s = readState(); writeState({...s, page: s.page + 1}); });
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  $("viewer").addEventListener("click", (e) => { if (e.target === $("viewer")) $("viewer").close(); });
  showCameras().catch((e) => {
    $("camera-list").replaceChildren(el("p", {class: "error"}, "Could not load cameras: " + e.message));
  }).finally(() => onNavigate(() => show(readState())));
}

init();
