// Shared helpers of every page of the MeteorPi website (see docs/website.md).
// Every URL is built relative to this module, so the site works under any url_path.
"use strict";

/** The node's API root: this module is served at <root>/web/static/app.js. */
export const ROOT = new URL("../../", import.meta.url);
/** The folder of the pages: <root>/web/. */
export const WEB = new URL("../", import.meta.url);
export const DAY_MS = 86400000;
export const HOUR_MS = 3600000;

/** The site's navigation. `roles`: shown only to a logged-in user holding one of them
 *  (admin pages use ["camera_admin"]); `group: "admin"` puts a link among the admin links. */
export const NAV = [
  {page: "", label: "Gallery"},
  {page: "search", label: "Search"},
  {page: "camera", label: "Cameras"},
  {page: "health", label: "Camera health", roles: ["user"]},
  {page: "users", label: "Users", roles: ["camera_admin"], group: "admin"},
  {page: "camera-status", label: "Camera status", roles: ["camera_admin"], group: "admin"},
  {page: "hwm", label: "High water marks", roles: ["camera_admin"], group: "admin"},
  {page: "exports", label: "Exports", roles: ["camera_admin"], group: "admin"},
  {page: "password", label: "Password", roles: ["user"], group: "admin"},
];

// ---- elements -----------------------------------------------------------------------------

/** A new element; strings among the children become text nodes, never markup. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setProps(node, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.setAttribute("class", value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** A new SVG element (for charts), with an optional text or child list. */
export function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setProps(node, attributes);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

// ---- the API ------------------------------------------------------------------------------

/** The absolute URL of an API path such as "cameras" or "events/<search>". */
export function apiUrl(path) {
  return new URL(path, ROOT).href;
}

/** The URL of a page of this site, e.g. pageUrl("camera", {id: "b827eb..."}). */
export function pageUrl(page, params) {
  const url = new URL(page, WEB);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  return url.href;
}

/** The search's JSON, URL-encoded twice as the API's /events/<search> expects (as the
 *  2015 client and meteorpi_client send it; proxies leave it alone). */
export function searchPath(route, search) {
  return route + encodeURIComponent(encodeURIComponent(JSON.stringify(search)));
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** GET (or another method) an API path and parse its JSON; an ApiError with the server's
 *  message otherwise. `auth: true` sends the logged-in user's credentials. */
export async function getJSON(path, options) {
  const {auth = false, method = "GET", body} = options || {};
  const headers = {accept: "application/json"};
  if (auth) {
    const login = currentLogin();
    if (!login) throw new ApiError("Log in first.", 403);
    headers.authorization = login.header;
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path), {method, headers, credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (error) {
    throw new ApiError("The server could not be reached (" + error.message + ")", 0);
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    throw new ApiError((data && data.message) || response.status + " " + response.statusText,
                       response.status);
  }
  return data;
}

/** Show a message in a status element (role=status); errors are styled and announced. */
export function setStatus(target, text, isError) {
  const node = typeof target === "string" ? $(target) : target;
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
  if (isError) node.setAttribute("role", "alert");
  else node.setAttribute("role", "status");
}

/** Run an async loader, showing what it failed with in the status element. */
export async function withStatus(target, what, load) {
  setStatus(target, "Loading " + what + "\u2026");
  try {
    const result = await load();
    setStatus(target, "");
    return result;
  } catch (error) {
    setStatus(target, "Could not load " + what + ": " + error.message, true);
    return undefined;
  }
}

// ---- cameras ------------------------------------------------------------------------------

let camerasPromise = null;

/** Every camera with its current status (null if none): [{id, status}], loaded once a page. */
export function loadCameras() {
  if (!camerasPromise) {
    camerasPromise = getJSON("cameras").then((body) => Promise.all((body.cameras || []).map(
      async (id) => ({id, status: await getJSON("cameras/" + encodeURIComponent(id) + "/status")
        .then((b) => b.status || null, () => null)}))));
  }
  return camerasPromise;
}

export function cameraName(cameras, id) {
  const found = (cameras || []).find((c) => c.id === id);
  return found && found.status && found.status.inst_name ? found.status.inst_name : id;
}

// ---- times: stored and shown in UTC, with the viewer's local time beside ------------------

const pad = (n, w) => String(n).padStart(w || 2, "0");

/** "2024-08-12 02:30:00 UTC" (with milliseconds if asked). */
export function formatUTC(ms, withMillis) {
  if (typeof ms !== "number" || !isFinite(ms)) return "?";
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 10) + " " + iso.slice(11, withMillis ? 23 : 19) + " UTC";
}

/** The viewer's local time, e.g. "03:30 local" or "2024-08-12 03:30 local" on another day. */
export function formatLocal(ms) {
  if (typeof ms !== "number" || !isFinite(ms)) return "";
  const d = new Date(ms);
  const local = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  const time = pad(d.getHours()) + ":" + pad(d.getMinutes());
  const offset = -d.getTimezoneOffset();
  const zone = offset === 0 ? "" : " (UTC" + (offset > 0 ? "+" : "\u2212") + pad(Math.floor(Math.abs(offset) / 60))
    + ":" + pad(Math.abs(offset) % 60) + ")";
  return (local === new Date(ms).toISOString().slice(0, 10) ? time : local + " " + time) + " local" + zone;
}

/** A <time> element: the UTC time, and the local time beside it. */
export function timeElement(ms, withMillis) {
  if (typeof ms !== "number") return el("span", {class: "muted"}, "never");
  return el("span", {class: "when"},
    el("time", {datetime: new Date(ms).toISOString()}, formatUTC(ms, withMillis)),
    " ", el("span", {class: "local"}, "\u00b7 " + formatLocal(ms)));
}

/** "3 h 20 min" for a number of seconds. */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "?";
  const s = Math.round(Math.abs(seconds));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  return Math.round(s / 86400) + " days";
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$/;
const CLOCK = /^(\d{2}):(\d{2})$/;

/** A UTC calendar date "YYYY-MM-DD" as ms at 00:00 UTC; null if empty; NaN if malformed. */
export function parseDate(text) {
  if (!text) return null;
  const m = DATE.exec(text.trim());
  if (!m) return NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3]);
  return new Date(ms).toISOString().slice(0, 10) === text.trim() ? ms : NaN;
}

/** "YYYY-MM-DD HH:MM[:SS[.mmm]]" (UTC, T and Z optional) or a date alone as ms; null if empty. */
export function parseDateTime(text) {
  if (!text) return null;
  const t = text.trim();
  if (DATE.test(t)) return parseDate(t);
  const m = DATETIME.exec(t);
  if (!m || +m[4] > 23 || +m[5] > 59 || +(m[6] || 0) > 59) return NaN;
  const day = parseDate(m[1] + "-" + m[2] + "-" + m[3]);
  return day + ((+m[4] * 60 + +m[5]) * 60 + +(m[6] || 0)) * 1000 + +((m[7] || "0").padEnd(3, "0"));
}

/** "HH:MM" UTC as seconds since the previous noon (the API's after_offset/before_offset). */
export function clockToOffset(text) {
  if (!text) return null;
  const m = CLOCK.exec(text.trim());
  if (!m || +m[1] > 23 || +m[2] > 59) return NaN;
  return ((+m[1] * 3600 + +m[2] * 60) - 12 * 3600 + 86400) % 86400;
}

export function isoDate(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The observing night holding ms, named by the date of the noon (UTC) that starts it. */
export function nightOf(ms) {
  return isoDate(ms - 12 * HOUR_MS);
}

/** The night named "YYYY-MM-DD" as [start, end): noon UTC to the next noon. */
export function nightRange(name) {
  const day = parseDate(name);
  if (day === null || isNaN(day)) return null;
  return [day + 12 * HOUR_MS, day + 12 * HOUR_MS + DAY_MS];
}

// ---- numbers and metadata -----------------------------------------------------------------

export function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}

export function formatSize(bytes) {
  if (typeof bytes !== "number") return "";
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KiB";
  return (bytes / 1048576).toFixed(1) + " MiB";
}

export function metaLabel(key) {
  return String(key).replace(/^meteorpi:/, "").replace(/_/g, " ");
}

export function metaValue(item) {
  if (item.type === "date") return formatUTC(item.value, true);
  if (item.type === "number" && typeof item.value === "number") return formatNumber(item.value);
  return String(item.value);
}

export function metaList(items) {
  return el("dl", {class: "meta"}, (items || []).map((item) =>
    [el("dt", {}, metaLabel(item.key)), el("dd", {}, metaValue(item))]));
}

export function hemisphere(value, positive, negative, digits) {
  if (typeof value !== "number") return "?";
  return Math.abs(value).toFixed(digits) + "\u00b0 " + (value < 0 ? negative : positive);
}

/** A URL that is safe to link to (http or https), or null. */
export function safeHttpUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

// ---- files: content, thumbnails -----------------------------------------------------------

export function contentUrl(file, named) {
  const path = "files/content/" + encodeURIComponent(file.file_id);
  return apiUrl(named && file.file_name ? path + "/" + encodeURIComponent(file.file_name) : path);
}

export function thumbnailUrl(file) {
  return apiUrl("files/thumbnail/" + encodeURIComponent(file.file_id));
}

/** A lazily loaded thumbnail of a file (an icon for non-images); a placeholder if it fails,
 * saying so when housekeeping pruned the content (the server answers 410 Gone). */
export function thumbnail(file, alt) {
  const url = thumbnailUrl(file);
  const img = el("img", {src: url, alt: alt, loading: "lazy", decoding: "async"});
  img.addEventListener("error", async () => {
    const placeholder = el("span", {class: "none placeholder"}, "no preview");
    img.replaceWith(placeholder);
    try {
      const answer = await fetch(url, {method: "HEAD"});
      if (answer.status === 410) placeholder.textContent = "image pruned from this node";
    } catch (_) { /* the placeholder already says there is no preview */ }
  }, {once: true});
  return img;
}

/** The first image among files, by preferred semantic type. */
export function imageFile(files, preferred) {
  const images = (files || []).filter((f) => /^image\//.test(f.mime_type || ""));
  for (const type of preferred || []) {
    const found = images.find((f) => f.semantic_type === type);
    if (found) return found;
  }
  return images[0] || null;
}

// ---- state in the URL (so a view can be shared and the back button works) -----------------

/** The page's query parameters as URLSearchParams. */
export function readParams() {
  return new URLSearchParams(location.search);
}

/** Put params in the URL (a new history entry unless replace) and return whether it changed. */
export function writeParams(params, replace) {
  const entries = [...params].filter(([, v]) => v !== "" && v !== null && v !== undefined);
  const text = new URLSearchParams(entries).toString();
  const url = location.pathname + (text ? "?" + text : "");
  if (url === location.pathname + location.search) return false;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  return true;
}

/** Call render() now and whenever the back/forward buttons change the URL. */
export function onNavigate(render) {
  window.addEventListener("popstate", () => render());
  render();
}

// ---- login (the admin API's Basic auth; kept for this tab only, in sessionStorage) --------

const LOGIN_KEY = "meteorpi.login";

/** The logged-in user: {user_id, roles, header} or null. */
export function currentLogin() {
  try {
    const login = JSON.parse(sessionStorage.getItem(LOGIN_KEY) || "null");
    return login && login.header ? login : null;
  } catch (e) {
    return null;
  }
}

export function hasRole(role) {
  const login = currentLogin();
  return Boolean(login && (login.roles || []).includes(role));
}

/** Check the credentials with GET /login and keep them for this tab; returns the user. */
export async function logIn(userId, password) {
  const bytes = new TextEncoder().encode(userId + ":" + password);
  const header = "Basic " + btoa(String.fromCharCode(...bytes));
  let response;
  try {
    response = await fetch(apiUrl("login"), {headers: {authorization: header, accept: "application/json"},
                                             credentials: "omit"});
  } catch (error) {
    throw new ApiError("The server could not be reached (" + error.message + ")", 0);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError((body && body.message) || String(response.status), response.status);
  const login = {user_id: body.user.user_id, roles: body.user.roles || [], header};
  sessionStorage.setItem(LOGIN_KEY, JSON.stringify(login));
  return login;
}

export function logOut() {
  sessionStorage.removeItem(LOGIN_KEY);
}

/** The login page's URL, coming back to this page afterwards. */
export function loginUrl() {
  return pageUrl("login", {next: location.pathname.split("/").pop() + location.search});
}

// ---- page chrome --------------------------------------------------------------------------

/** Build the header (brand, nav with the links this user may see, login state) and footer.
 *  Call once per page, first thing: `chrome("search")`. */
export function chrome(current) {
  const login = currentLogin();
  const roles = new Set(login ? login.roles : []);
  const visible = NAV.filter((item) => !item.roles || item.roles.some((r) => roles.has(r)));
  const link = (item) => el("li", {class: item.group === "admin" ? "admin" : null},
    el("a", {href: pageUrl(item.page), "aria-current": item.page === current ? "page" : null}, item.label));
  const account = login
    ? [el("li", {class: "user"}, login.user_id),
       el("li", {}, el("button", {type: "button", id: "logout", onclick: () => { logOut(); location.reload(); }}, "Log out"))]
    : [el("li", {}, el("a", {href: loginUrl(), id: "login-link",
                             "aria-current": current === "login" ? "page" : null}, "Log in"))];
  const header = el("header", {class: "top"},
    el("a", {class: "skip", href: "#main"}, "Skip to content"),
    el("p", {class: "brand"}, el("a", {href: pageUrl("")}, el("span", {class: "streak", "aria-hidden": "true"}), "MeteorPi")),
    el("nav", {class: "site", "aria-label": "Site"}, el("ul", {}, visible.map(link), account)));
  document.body.prepend(header);
  document.body.append(el("footer", {},
    "Times in UTC, your local time beside \u00b7 ",
    el("a", {href: apiUrl("openapi.json")}, "API description"), " \u00b7 ",
    el("a", {href: apiUrl("health")}, "node health")));
}
