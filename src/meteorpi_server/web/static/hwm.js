// High water marks (web/hwm, camera_admin): GET /cameras/<id>/hwm for every camera; moving a
// mark first asks GET ...?time= what it would delete, shows the rollback warning, and only then
// sends PUT /cameras/<id>/hwm (with confirm_rollback once the warning was confirmed).
import {$, el, getJSON, parseDateTime, readParams, setStatus, timeElement} from "./app.js";
import {adminPage, cameraPath, checkbox, rollbackPreview, rollbackWarning, utcText} from "./admin.js";

let marks = [];

async function loadMarks() {
  const {cameras} = await getJSON("cameras");
  marks = await Promise.all(cameras.map((id) => getJSON(cameraPath(id, "hwm"), {auth: true})));
  $("marks").replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "Camera"), el("th", {scope: "col"}, "High water mark"))),
    el("tbody", {}, marks.map((m) => el("tr", {"data-camera": m.camera_id},
      el("th", {scope: "row", class: "mono"}, m.camera_id), el("td", {}, timeElement(m.high_water_mark)))))));
  const select = $("hwm-camera");
  const chosen = select.value || readParams().get("camera") || "";
  select.replaceChildren(...marks.map((m) => el("option", {value: m.camera_id, selected: m.camera_id === chosen}, m.camera_id)));
}

async function move(cameraId, ms, confirmed) {
  try {
    const body = await getJSON(cameraPath(cameraId, "hwm"), {auth: true, method: "PUT",
                                                             body: {time: ms, confirm_rollback: confirmed}});
    $("hwm-confirm").replaceChildren();
    await loadMarks();
    setStatus("status", "High water mark of " + cameraId + " set to " + utcText(body.high_water_mark) + " UTC.");
  } catch (error) {
    setStatus("status", "Not moved: " + error.message, true);
  }
}

async function check(e) {
  e.preventDefault();
  const cameraId = $("hwm-camera").value;
  const ms = parseDateTime($("hwm-time").value);
  if (ms === null || isNaN(ms)) {
    setStatus("status", "Give the new mark as YYYY-MM-DD HH:MM:SS (UTC).", true);
    $("hwm-time").focus();
    return;
  }
  $("hwm-confirm").replaceChildren();
  try {
    const rollback = await rollbackPreview(cameraId, ms);
    if (!rollback) {
      await move(cameraId, ms, false);
      return;
    }
    setStatus("status", "");
    const understood = checkbox("rollback-understood", "I understand: delete this data");
    const button = el("button", {type: "button", class: "danger", id: "rollback-confirm", disabled: true,
                                 onclick: () => move(cameraId, ms, true)}, "Roll back and delete");
    understood.querySelector("input").addEventListener("change", (ev) => { button.disabled = !ev.target.checked; });
    $("hwm-confirm").replaceChildren(rollbackWarning(rollback),
      el("div", {class: "actions"}, understood, button,
         el("button", {type: "button", onclick: () => $("hwm-confirm").replaceChildren()}, "Cancel")));
    $("rollback-warning").focus?.();
  } catch (error) {
    setStatus("status", error.message, true);
  }
}

async function start() {
  if (!adminPage("hwm", ["camera_admin"])) return;
  $("hwm-form").addEventListener("submit", check);
  try {
    await loadMarks();
  } catch (error) {
    setStatus("status", "Could not load the marks: " + error.message, true);
  }
}

start();
