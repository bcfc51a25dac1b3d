// The camera status editor (web/camera-status?camera=<id>, camera_admin): every field of the
// camera's status, and its visible-sky regions drawn as polygons over its latest sky image
// (an SVG overlay in image pixels, origin top-left, as the regions are stored). Saving sends
// PATCH /cameras/<id>/status; a "valid from" before the camera's high water mark is a rollback,
// which GET /cameras/<id>/hwm?time= describes first and the user must confirm.
import {$, contentUrl, el, getJSON, parseDateTime, readParams, searchPath, setStatus, svg,
        timeElement, writeParams} from "./app.js";
import {adminPage, cameraPath, checkbox, rollbackPreview, rollbackWarning} from "./admin.js";

const TEXT = ["inst_name", "inst_url", "lens", "sensor"];
const NUMBERS = {location: ["lat", "long", "error"], orientation: ["alt", "az", "rot", "width", "error"]};
const SKY_TYPES = ["meteorpi:sky_clarity", "meteorpi:meteor_image"];

let cameraId = "";
let regions = [];
let selected = 0;
let size = {width: 720, height: 576};

// ---- the form ------------------------------------------------------------------------------

function fill(status) {
  for (const name of TEXT) $("f-" + name).value = status[name] ?? "";
  $("f-software_version").value = status.software_version ?? "";
  for (const [section, keys] of Object.entries(NUMBERS)) {
    for (const key of keys) $("f-" + section + "-" + key).value = status[section]?.[key] ?? "";
  }
  $("f-location-gps").checked = Boolean(status.location?.gps);
  $("f-valid_from").value = "";
  regions = (status.regions || []).map((polygon) => polygon.map((p) => ({x: p.x, y: p.y})));
  selected = 0;
  $("current-block").replaceChildren("Current block ", el("span", {class: "mono"}, status.status_id || ""),
    ", valid from ", timeElement(status.valid_from), ".");
  drawRegions();
}

function number(id) {
  const text = $(id).value.trim();
  return text === "" ? undefined : Number(text);
}

/** The PATCH body: every field of the form (empty numbers are left as they are). */
function changes() {
  const body = {};
  for (const name of TEXT) body[name] = $("f-" + name).value;
  const version = number("f-software_version");
  if (version !== undefined) body.software_version = version;
  for (const [section, keys] of Object.entries(NUMBERS)) {
    body[section] = {};
    for (const key of keys) {
      const value = number("f-" + section + "-" + key);
      if (value !== undefined) body[section][key] = value;
    }
  }
  body.location.gps = $("f-location-gps").checked;
  body.regions = regions;
  return body;
}

// ---- the regions: SVG over the sky image ------------------------------------------------------

function syncText() {
  $("f-regions").value = JSON.stringify(regions);
  $("f-regions").removeAttribute("aria-invalid");
}

function drawRegions() {
  syncText();
  const select = $("polygon-select");
  select.replaceChildren(...regions.map((polygon, i) => el("option", {value: String(i), selected: i === selected},
    "Polygon " + (i + 1) + " (" + polygon.length + " points)")));
  if (!regions.length) select.append(el("option", {value: ""}, "none yet"));
  const overlay = $("sky-overlay");
  if (!overlay) return;
  overlay.replaceChildren(...regions.map((polygon, i) => svg("g", {class: i === selected ? "region selected" : "region"},
    svg("polygon", {points: polygon.map((p) => p.x + "," + p.y).join(" ")}),
    polygon.map((p, j) => svg("circle", {cx: p.x, cy: p.y, r: 7, tabindex: i === selected ? 0 : -1, role: "button",
      "aria-label": "Point " + (j + 1) + " of polygon " + (i + 1) + " at " + p.x + ", " + p.y
        + "; arrow keys move it, Delete removes it",
      "data-polygon": i, "data-point": j})))));
}

function svgPoint(overlay, event) {
  const matrix = overlay.getScreenCTM().inverse();
  const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix);
  return {x: Math.max(0, Math.min(size.width, Math.round(point.x))),
          y: Math.max(0, Math.min(size.height, Math.round(point.y)))};
}

function wireOverlay(overlay) {
  let dragging = null;
  overlay.addEventListener("pointerdown", (event) => {
    const target = event.target;
    if (target.tagName === "circle") {
      selected = Number(target.dataset.polygon);
      dragging = {polygon: selected, point: Number(target.dataset.point)};
      overlay.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (!regions.length) regions.push([]);
    regions[selected].push(svgPoint(overlay, event));
    drawRegions();
  });
  overlay.addEventListener("pointermove", (event) => {
    if (!dragging) return;
    regions[dragging.polygon][dragging.point] = svgPoint(overlay, event);
    drawRegions();
  });
  overlay.addEventListener("pointerup", () => { dragging = null; });
  overlay.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.tagName !== "circle") return;
    const i = Number(target.dataset.polygon);
    const j = Number(target.dataset.point);
    const step = event.shiftKey ? 10 : 1;
    const moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]};
    if (moves[event.key]) {
      const p = regions[i][j];
      regions[i][j] = {x: Math.max(0, p.x + moves[event.key][0]), y: Math.max(0, p.y + moves[event.key][1])};
    } else if (event.key === "Delete" || event.key === "Backspace") {
      regions[i].splice(j, 1);
    } else {
      return;
    }
    event.preventDefault();
    drawRegions();
    overlay.querySelector(`circle[data-polygon="${i}"][data-point="${Math.min(j, regions[i].length - 1)}"]`)?.focus();
  });
}

async function loadSky() {
  let file = null;
  for (const type of SKY_TYPES) {
    const found = await getJSON(searchPath("files/", {camera_ids: [cameraId], semantic_type: type, limit: 1}));
    file = (found.files || []).find((f) => /^image\//.test(f.mime_type)) || null;
    if (file) break;
  }
  const overlay = svg("svg", {id: "sky-overlay", class: "sky-overlay", viewBox: `0 0 ${size.width} ${size.height}`,
                              role: "group", "aria-label": "Visible-sky polygons over the sky image"});
  wireOverlay(overlay);
  if (!file) {
    $("sky-wrap").replaceChildren(el("p", {class: "muted"}, "No sky image from this camera yet: drawing on a blank "
                                     + size.width + "\u00d7" + size.height + " frame."), overlay);
    overlay.classList.add("blank");
    drawRegions();
    return;
  }
  const image = el("img", {src: contentUrl(file), alt: "Latest sky image of " + cameraId, class: "sky-image"});
  $("sky-wrap").replaceChildren(el("div", {class: "sky-frame"}, image, overlay),
                                el("p", {class: "muted"}, "Sky image of ", timeElement(file.file_time), "."));
  await image.decode().catch(() => null);
  if (image.naturalWidth) {
    size = {width: image.naturalWidth, height: image.naturalHeight};
    overlay.setAttribute("viewBox", `0 0 ${size.width} ${size.height}`);
  }
  drawRegions();
}

function wireRegionTools() {
  $("polygon-select").addEventListener("change", (e) => { selected = Number(e.target.value) || 0; drawRegions(); });
  $("polygon-new").addEventListener("click", () => { regions.push([]); selected = regions.length - 1; drawRegions(); });
  $("point-undo").addEventListener("click", () => { regions[selected]?.pop(); drawRegions(); });
  $("polygon-delete").addEventListener("click", () => {
    regions.splice(selected, 1);
    selected = Math.max(0, selected - 1);
    drawRegions();
  });
  $("f-regions").addEventListener("change", (e) => {
    try {
      const parsed = JSON.parse(e.target.value || "[]");
      const ok = Array.isArray(parsed) && parsed.every((polygon) => Array.isArray(polygon)
        && polygon.every((p) => p && Number.isInteger(p.x) && Number.isInteger(p.y)));
      if (!ok) throw new Error("a list of polygons, each a list of {\"x\": …, \"y\": …} whole-pixel points");
      regions = parsed.map((polygon) => polygon.map((p) => ({x: p.x, y: p.y})));
      selected = 0;
      drawRegions();
      setStatus("status", "");
    } catch (error) {
      e.target.setAttribute("aria-invalid", "true");
      setStatus("status", "Regions: " + error.message, true);
    }
  });
}

// ---- saving ---------------------------------------------------------------------------------

async function save(body, confirmed) {
  try {
    const {status} = await getJSON(cameraPath(cameraId, "status"), {auth: true, method: "PATCH",
                                                                     body: {...body, confirm_rollback: confirmed}});
    $("status-confirm").replaceChildren();
    fill(status);
    setStatus("status", "Saved: a new status block for " + cameraId + ".");
  } catch (error) {
    setStatus("status", "Not saved: " + error.message, true);
  }
}

async function submit(event) {
  event.preventDefault();
  $("status-confirm").replaceChildren();
  const body = changes();
  const validFrom = parseDateTime($("f-valid_from").value);
  if (validFrom !== null && isNaN(validFrom)) {
    setStatus("status", "Give 'valid from' as YYYY-MM-DD HH:MM:SS (UTC), or leave it empty for now.", true);
    return;
  }
  if (validFrom !== null) {
    body.valid_from = validFrom;
    try {
      const rollback = await rollbackPreview(cameraId, validFrom);
      if (rollback) {
        const understood = checkbox("rollback-understood", "I understand: delete this data");
        const button = el("button", {type: "button", class: "danger", id: "rollback-confirm", disabled: true,
                                     onclick: () => save(body, true)}, "Save and roll back");
        understood.querySelector("input").addEventListener("change", (e) => { button.disabled = !e.target.checked; });
        $("status-confirm").replaceChildren(rollbackWarning(rollback), el("div", {class: "actions"}, understood, button));
        return;
      }
    } catch (error) {
      setStatus("status", error.message, true);
      return;
    }
  }
  await save(body, false);
}

async function showCamera(id) {
  cameraId = id;
  writeParams(new URLSearchParams({camera: id}), true);
  setStatus("status", "Loading " + id + "\u2026");
  try {
    const {status} = await getJSON(cameraPath(id, "status"));
    fill(status);
    await loadSky();
    setStatus("status", "");
  } catch (error) {
    setStatus("status", "Could not load " + id + ": " + error.message, true);
  }
}

async function start() {
  if (!adminPage("camera-status", ["camera_admin"])) return;
  wireRegionTools();
  $("status-form").addEventListener("submit", submit);
  const {cameras} = await getJSON("cameras");
  const wanted = readParams().get("camera");
  const first = cameras.includes(wanted) ? wanted : cameras[0];
  $("camera-select").replaceChildren(...cameras.map((id) => el("option", {value: id, selected: id === first}, id)));
  $("camera-select").addEventListener("change", (e) => showCamera(e.target.value));
  if (first) await showCamera(first);
  else setStatus("status", "No camera has a status yet.");
}

start();
