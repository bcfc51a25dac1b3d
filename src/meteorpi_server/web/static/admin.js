// Helpers of the admin pages (users, password, camera-status, hwm, exports): who may see a page,
// and the rollback warning. Every change goes through the admin API with the login's Basic auth.
import {$, chrome, currentLogin, el, formatUTC, getJSON, loginUrl, timeElement} from "./app.js";

/** Build the chrome, then return the login if it holds one of `roles`; otherwise show why the
 *  page is not for this visitor (in #denied), hide #content and return null. No API request is
 *  sent without the role, so the API never has to refuse one. */
export function adminPage(page, roles) {
  chrome(page);
  const login = currentLogin();
  if (login && roles.some((role) => login.roles.includes(role))) {
    $("content").hidden = false;
    return login;
  }
  $("content").hidden = true;
  $("denied").replaceChildren(login
    ? el("span", {}, "This page needs the " + roles.join(" or ") + " role; " + login.user_id
         + " holds " + (login.roles.join(", ") || "no role") + ".")
    : el("span", {}, "This page is for logged-in users. ", el("a", {href: loginUrl()}, "Log in"), " to use it."));
  $("denied").hidden = false;
  return null;
}

/** The API path of a camera's routes, e.g. cameraPath(id, "hwm"). */
export function cameraPath(cameraId, rest) {
  return "cameras/" + encodeURIComponent(cameraId) + "/" + rest;
}

/** What moving the mark back would delete: GET /cameras/<id>/hwm?time=<ms> → rollback or null. */
export async function rollbackPreview(cameraId, ms) {
  const body = await getJSON(cameraPath(cameraId, "hwm") + "?time=" + encodeURIComponent(ms), {auth: true});
  return body.rollback || null;
}

/** The warning shown before a rollback (role=alert, so a screen reader announces it). */
export function rollbackWarning(rollback) {
  return el("div", {class: "notice danger", role: "alert", id: "rollback-warning"},
    el("strong", {}, "\u26a0 This rolls camera " + rollback.camera_id + " back. "),
    "Its high water mark moves from ", timeElement(rollback.mark), " back to ", timeElement(rollback.time),
    ", and everything of this camera after that time is deleted for good: ",
    el("strong", {}, rollback.events + " events, " + rollback.files + " files and "
                   + rollback.statuses + " status blocks"), ".");
}

/** "2024-08-12 02:30:00 UTC" for a form's default value. */
export function utcText(ms) {
  return formatUTC(ms).replace(/ UTC$/, "");
}

/** A labelled checkbox. */
export function checkbox(id, label, checked, extra) {
  return el("label", {class: "check", for: id},
    el("input", {type: "checkbox", id, checked: Boolean(checked), ...(extra || {})}), label);
}
