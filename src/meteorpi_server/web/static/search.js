// The search editor (web/search): every field of the API's event and file searches, the state
// in the URL, the results with counts and pages, and the same search as curl and Python.
import {$, apiUrl, chrome, clockToOffset, contentUrl, el, formatSize, formatUTC, getJSON,
        imageFile, loadCameras, cameraName, metaLabel, metaValue, nightRange, onNavigate, pageUrl,
        parseDate, parseDateTime, readParams, searchPath, setStatus, thumbnail, timeElement,
        writeParams, ROOT} from "./app.js";

const CONSTRAINTS = {
  string_equals: {label: "is (text)", kind: "string"},
  number_equals: {label: "= (number)", kind: "number"},
  greater: {label: "\u2265 (number)", kind: "number"},
  less: {label: "\u2264 (number)", kind: "number"},
  after: {label: "at or after (time)", kind: "date"},
  before: {label: "at or before (time)", kind: "date"},
};
const FIELDS = ["after", "before", "night_from", "night_to", "time_from", "time_to", "lat_min", "lat_max",
                "long_min", "long_max", "type", "mime", "exclude_export_to"];
const CHECKS = ["exclude_events", "exclude_imported"];
const LIMITS = ["10", "25", "50", "100"];
let cameras = [];
let rowCount = 0;
let generation = 0;

// ---- the form <-> the URL ----

function metaRow(type, key, value) {
  const n = ++rowCount;
  const row = el("div", {class: "meta-row fields"},
    el("label", {}, "Key", el("input", {type: "text", class: "meta-key", list: "meta-keys", value: key || "",
                                        placeholder: "meteorpi:magnitude", autocomplete: "off", id: "meta-key-" + n})),
    el("label", {}, "Condition", el("select", {class: "meta-type", id: "meta-type-" + n},
      Object.entries(CONSTRAINTS).map(([name, c]) => el("option", {value: name, selected: name === type}, c.label)))),
    el("label", {}, "Value", el("input", {type: "text", class: "meta-value", value: value || "", autocomplete: "off",
                                          id: "meta-value-" + n})),
    el("button", {type: "button", "aria-label": "Remove this constraint", onclick: () => row.remove()}, "Remove"));
  $("meta-rows").append(row);
  return row;
}

/** The form as URL parameters (only what is filled in). */
function formParams() {
  const form = $("search-form");
  const params = new URLSearchParams();
  params.set("kind", form.elements.kind.value);
  const chosen = [...$("cameras").selectedOptions].map((o) => o.value);
  if (chosen.length) params.set("cameras", chosen.join(","));
  for (const name of FIELDS) if ($(name).value.trim()) params.set(name, $(name).value.trim());
  for (const name of CHECKS) if ($(name).checked) params.set(name, "1");
  for (const row of $("meta-rows").children) {
    const key = row.querySelector(".meta-key").value.trim();
    if (key) params.append("m", [row.querySelector(".meta-type").value, key, row.querySelector(".meta-value").value.trim()].join("|"));
  }
  if ($("limit").value !== "25") params.set("limit", $("limit").value);
  return params;
}

function fillForm(params) {
  const form = $("search-form");
  form.elements.kind.value = params.get("kind") === "files" ? "files" : "events";
  const chosen = new Set((params.get("cameras") || "").split(",").filter(Boolean));
  for (const option of $("cameras").options) option.selected = chosen.has(option.value);
  for (const name of FIELDS) $(name).value = params.get(name) || "";
  for (const name of CHECKS) $(name).checked = params.get(name) === "1";
  $("meta-rows").replaceChildren();
  for (const text of params.getAll("m")) {
    const [type, key, ...rest] = text.split("|");
    metaRow(type, key, rest.join("|"));
  }
  $("limit").value = LIMITS.includes(params.get("limit")) ? params.get("limit") : "25";
  showKind();
}

function showKind() {
  const files = $("search-form").elements.kind.value === "files";
  for (const node of document.querySelectorAll("[data-for=files]")) node.classList.toggle("hidden", !files);
}

// ---- URL parameters -> the API's search ----

class InputError extends Error {}

function number(params, name, what) {
  const text = params.get(name);
  if (!text) return undefined;
  const value = Number(text);
  if (!isFinite(value)) throw new InputError(what + " must be a number, not \u201c" + text + "\u201d");
  return value;
}

function time(params, name, what) {
  const value = parseDateTime(params.get(name) || "");
  if (Number.isNaN(value)) throw new InputError(what + " must be a UTC time like 2024-08-12 02:30 (or a date)");
  return value === null ? undefined : value;
}

function night(params, name, what) {
  const value = params.get(name) || "";
  if (!value) return undefined;
  if (Number.isNaN(parseDate(value))) throw new InputError(what + " must be a date YYYY-MM-DD (UTC)");
  return nightRange(value);
}

function offset(params, name, what) {
  const value = clockToOffset(params.get(name) || "");
  if (Number.isNaN(value)) throw new InputError(what + " must be a UTC time of day HH:MM");
  return value === null ? undefined : value;
}

/** The API search (events or files) the parameters describe; InputError if one is malformed. */
export function buildSearch(params) {
  const kind = params.get("kind") === "files" ? "files" : "events";
  const search = {};
  const ids = (params.get("cameras") || "").split(",").filter(Boolean);
  if (ids.length) search.camera_ids = ids;
  for (const [name, what] of [["lat_min", "Latitude from"], ["lat_max", "Latitude to"],
                              ["long_min", "Longitude from"], ["long_max", "Longitude to"]]) {
    const value = number(params, name, what);
    if (value !== undefined) search[name] = value;
  }
  const afters = [time(params, "after", "After"), (night(params, "night_from", "From night") || [])[0]];
  const befores = [time(params, "before", "Before"), (night(params, "night_to", "To night") || [])[1]];
  if (afters[1] !== undefined) afters[1] -= 1;  // the night's first moment is included
  const after = Math.max(...afters.filter((v) => v !== undefined));
  const before = Math.min(...befores.filter((v) => v !== undefined));
  if (isFinite(after)) search.after = after;
  if (isFinite(before)) search.before = before;
  const afterOffset = offset(params, "time_from", "Time of night from");
  const beforeOffset = offset(params, "time_to", "Time of night to");
  if (afterOffset !== undefined) search.after_offset = afterOffset;
  if (beforeOffset !== undefined) search.before_offset = beforeOffset;
  if (afterOffset !== undefined && beforeOffset !== undefined && beforeOffset < afterOffset) {
    throw new InputError("The time of night runs from noon to noon UTC: \u201cfrom\u201d must come before \u201cto\u201d in that order");
  }
  const type = params.get("type");
  if (type) search[kind === "events" ? "event_type" : "semantic_type"] = type;
  if (kind === "files" && params.get("mime")) search.mime_type = params.get("mime");
  if (kind === "files" && params.get("exclude_events") === "1") search.exclude_events = true;
  if (params.get("exclude_imported") === "1") search.exclude_imported = true;
  if (params.get("exclude_export_to")) search.exclude_export_to = params.get("exclude_export_to");
  const meta = params.getAll("m").map((text) => {
    const [type, key, ...rest] = text.split("|");
    const raw = rest.join("|");
    const constraint = CONSTRAINTS[type];
    if (!constraint) throw new InputError("Unknown metadata condition \u201c" + type + "\u201d");
    let value = raw;
    if (constraint.kind === "number") {
      value = Number(raw);
      if (raw === "" || !isFinite(value)) throw new InputError("The value for " + key + " must be a number");
    } else if (constraint.kind === "date") {
      value = parseDateTime(raw);
      if (value === null || Number.isNaN(value)) throw new InputError("The value for " + key + " must be a UTC time like 2024-08-12 02:30");
    }
    return {type, key, value};
  });
  if (meta.length) search.meta = meta;
  const limit = LIMITS.includes(params.get("limit")) ? Number(params.get("limit")) : 25;
  const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  search.limit = limit;
  search.skip = (page - 1) * limit;
  return {kind, search, page, limit};
}

// ---- results ----

function metaChips(items) {
  return el("div", {class: "chips"}, (items || []).slice(0, 6).map((m) =>
    el("span", {class: "chip"}, metaLabel(m.key) + " ", el("b", {}, metaValue(m)))));
}

function eventRow(event) {
  const image = imageFile(event.files, ["meteorpi:meteor_preview", "meteorpi:meteor_image"]);
  return el("tr", {"data-event-id": event.event_id},
    el("td", {}, image ? el("a", {href: contentUrl(image, true), class: "thumb-link"}, thumbnailSmall(image)) : ""),
    el("td", {}, timeElement(event.event_time, true)),
    el("td", {}, el("a", {href: pageUrl("camera", {id: event.camera_id})}, cameraName(cameras, event.camera_id))),
    el("td", {}, event.event_type, el("br"), el("span", {class: "muted"}, (event.files || []).length + " files")),
    el("td", {}, metaChips(event.meta)));
}

function fileRow(file) {
  return el("tr", {"data-file-id": file.file_id},
    el("td", {}, el("a", {href: contentUrl(file, true)}, thumbnailSmall(file))),
    el("td", {}, timeElement(file.file_time, true)),
    el("td", {}, el("a", {href: pageUrl("camera", {id: file.camera_id})}, cameraName(cameras, file.camera_id))),
    el("td", {}, file.semantic_type, el("br"),
       el("span", {class: "muted"}, (file.file_name || file.file_id) + " \u00b7 " + file.mime_type + " \u00b7 " + formatSize(file.file_size))),
    el("td", {}, metaChips(file.meta)));
}

function thumbnailSmall(file) {
  const img = thumbnail(file, "Preview of " + (file.file_name || file.semantic_type));
  img.setAttribute("width", "72");
  img.setAttribute("height", "58");
  return img;
}

/** A Python literal of a JSON value (strings as JSON writes them: valid Python too). */
function pyLiteral(value, indent) {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null) return "None";
  const inner = indent + "    ";
  if (Array.isArray(value)) {
    return value.length ? "[\n" + value.map((v) => inner + pyLiteral(v, inner)).join(",\n") + "\n" + indent + "]" : "[]";
  }
  if (typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length ? "{\n" + entries.map(([k, v]) => inner + JSON.stringify(k) + ": " + pyLiteral(v, inner)).join(",\n")
      + "\n" + indent + "}" : "{}";
  }
  return JSON.stringify(value);
}

function pythonSnippet(kind, search) {
  const cls = kind === "events" ? "EventSearch" : "FileRecordSearch";
  const json = pyLiteral(search, "");
  return "from meteorpi_client import MeteorClient\nfrom meteorpi_model import " + cls + "\n\n"
    + "search = " + cls + ".from_dict(" + json + ")\n"
    + "with MeteorClient(\"" + ROOT.href.replace(/\/$/, "") + "\") as client:\n"
    + "    found = client.search_" + kind + "(search)\n"
    + "print(found[\"count\"], \"matches;\", len(found[\"" + kind + "\"]), \"on this page\")\n";
}

async function render() {
  const mine = ++generation;
  const params = readParams();
  fillForm(params);
  let built;
  try {
    built = buildSearch(params);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    setStatus("status", error.message, true);
    $("results").setAttribute("aria-busy", "false");
    return;
  }
  const {kind, search, page, limit} = built;
  $("results").setAttribute("aria-busy", "true");
  const path = searchPath(kind + "/", search);
  $("api-link").href = apiUrl(path);
  $("curl").textContent = "curl '" + apiUrl(path) + "'";
  $("python").textContent = pythonSnippet(kind, search);
  setStatus("status", "Searching\u2026");
  let body;
  try {
    body = await getJSON(path);
  } catch (error) {
    if (mine !== generation) return;
    setStatus("status", "The search failed: " + error.message, true);
    $("results").replaceChildren();
    $("results").setAttribute("aria-busy", "false");
    return;
  }
  if (mine !== generation) return;  // a newer search was started meanwhile
  const items = body[kind] || [];
  const first = search.skip;
  $("result-count").textContent = body.count === 1 ? "1 " + kind.slice(0, -1) : body.count + " " + kind;
  setStatus("status", items.length ? "Showing " + (first + 1) + "\u2013" + (first + items.length) + " of " + body.count + ", newest first"
                                   : "Nothing matches this search.");
  $("results").replaceChildren(items.length ? el("table", {id: "result-table", "data-count": body.count},
    el("thead", {}, el("tr", {}, ["Preview", "Time (UTC \u00b7 local)", "Camera", kind === "events" ? "Type" : "File", "Metadata"]
      .map((h) => el("th", {scope: "col"}, h)))),
    el("tbody", {}, items.map(kind === "events" ? eventRow : fileRow))) : "");
  $("page-info").textContent = "page " + page + " of " + Math.max(1, Math.ceil(body.count / limit));
  $("prev").disabled = page <= 1;
  $("next").disabled = first + items.length >= body.count;
  $("results").setAttribute("aria-busy", "false");
}

function goToPage(delta) {
  const params = readParams();
  const page = Math.max(1, parseInt(params.get("page") || "1", 10) + delta);
  if (page === 1) params.delete("page");
  else params.set("page", String(page));
  writeParams(params);
  render();
}

async function main() {
  chrome("search");
  try {
    cameras = await loadCameras();
  } catch (error) {
    setStatus("status", "Could not load the cameras: " + error.message, true);
  }
  $("cameras").replaceChildren(...cameras.map((c) => el("option", {value: c.id}, cameraName(cameras, c.id) + " \u00b7 " + c.id)));
  $("cameras").size = Math.min(6, Math.max(3, cameras.length));
  $("add-meta").addEventListener("click", () => metaRow("string_equals", "", "").querySelector("input").focus());
  for (const radio of $("search-form").elements.kind) radio.addEventListener("change", showKind);
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    writeParams(formParams());
    render();
  });
  $("reset").addEventListener("click", () => {
    writeParams(new URLSearchParams([["kind", $("search-form").elements.kind.value]]));
    render();
  });
  $("prev").addEventListener("click", () => goToPage(-1));
  $("next").addEventListener("click", () => goToPage(1));
  onNavigate(render);
}

main();
