// Camera health (web/health, logged-in users): GET /cameras/health with the login's Basic auth.
import {$, cameraName, chrome, currentLogin, el, formatDuration, getJSON, loadCameras, loginUrl,
        pageUrl, setStatus, timeElement, formatUTC} from "./app.js";

let cameras = [];

const COLUMNS = [
  ["camera", "Camera"], ["state", "State"], ["last_status_change", "Last status change"],
  ["last_event", "Last event"], ["last_file", "Last file"], ["last_import", "Last import received"],
  ["high_water_mark", "High water mark"], ["export", "Export queue"], ["typical_gap_s", "Typical gap"],
];

function cell(camera, key) {
  switch (key) {
    case "camera":
      return [el("a", {href: pageUrl("camera", {id: camera.camera_id})}, cameraName(cameras, camera.camera_id)),
              el("br"), el("span", {class: "mono muted"}, camera.camera_id)];
    case "state":
      return camera.quiet
        ? el("strong", {class: "warn"}, "\u26a0 quiet for " + formatDuration(camera.quiet_for_s))
        : el("span", {class: "ok"}, "reporting");
    case "export": {
      const q = camera.export || {};
      return el("span", {class: q.failed ? "error" : null},
        (q.pending ?? 0) + " pending, " + (q.failed ?? 0) + " failed");
    }
    case "typical_gap_s":
      return typeof camera.typical_gap_s === "number" ? formatDuration(camera.typical_gap_s) : "not known yet";
    default:
      return timeElement(camera[key]);
  }
}

async function show() {
  chrome("health");
  if (!currentLogin()) {
    $("health").replaceChildren(el("p", {class: "notice"}, "Camera health is for logged-in users. ",
      el("a", {href: loginUrl()}, "Log in"), " to see it."));
    return;
  }
  setStatus("status", "Loading camera health\u2026");
  let body;
  try {
    [body, cameras] = await Promise.all([getJSON("cameras/health", {auth: true}), loadCameras()]);
  } catch (error) {
    setStatus("status", "Could not load camera health: " + error.message, true);
    return;
  }
  const rows = body.cameras || [];
  const quiet = rows.filter((c) => c.quiet).length;
  setStatus("status", rows.length + " cameras" + (quiet ? ", " + quiet + " quiet" : ", all reporting"));
  $("health-now").textContent = "As of " + formatUTC(body.now);
  $("health").replaceChildren(el("table", {},
    el("caption", {class: "visually-hidden"}, "Health of each camera"),
    el("thead", {}, el("tr", {}, COLUMNS.map(([, label]) => el("th", {scope: "col"}, label)))),
    el("tbody", {}, rows.map((camera) => el("tr", {class: camera.quiet ? "quiet" : null, "data-camera-id": camera.camera_id},
      COLUMNS.map(([key]) => el(key === "camera" ? "th" : "td", key === "camera" ? {scope: "row"} : {}, cell(camera, key))))))));
}

show();
