// Users, roles and camera grants (web/users, camera_admin): GET/POST /users, PUT /users/roles,
// DELETE /users/<id>, and GET/PUT/DELETE /users/<id>/cameras[/<camera>].
import {$, el, getJSON, loadCameras, logIn, setStatus} from "./app.js";
import {adminPage} from "./admin.js";

const ROLES = ["user", "camera_admin", "import"];
const userPath = (id) => "users/" + encodeURIComponent(id);
const grantsPath = (id, camera) => `${userPath(id)}/cameras${camera === undefined ? "" : "/" + encodeURIComponent(camera)}`;
let knownCameras = [];
let login = null;

function roleBoxes(user) {
  return el("fieldset", {class: "roles"}, el("legend", {class: "visually-hidden"}, "Roles of " + user.user_id),
    ROLES.map((role) => el("label", {class: "check"},
      el("input", {type: "checkbox", name: "role", value: role, checked: user.roles.includes(role),
                   "aria-label": role + " role of " + user.user_id}), role)));
}

function cameraCell(user, cameras) {
  const id = "grant-" + user.user_id.replace(/[^A-Za-z0-9_-]/g, "_");
  const list = el("ul", {class: "grants"}, cameras.length ? cameras.map((camera) => el("li", {},
    el("span", {class: "mono"}, camera), " ",
    el("button", {type: "button", class: "small", "aria-label": "Revoke camera " + camera + " from " + user.user_id,
                  onclick: () => change("DELETE", grantsPath(user.user_id, camera),
                                        "Revoked " + camera + " from " + user.user_id)}, "\u00d7"))) : el("li", {class: "muted"}, "none"));
  const input = el("input", {type: "text", id, list: "camera-ids", class: "short", autocomplete: "off",
                             "aria-label": "Camera to grant to " + user.user_id});
  const form = el("form", {class: "grant-form", onsubmit: (e) => {
    e.preventDefault();
    const camera = input.value.trim();
    if (camera) change("PUT", grantsPath(user.user_id, camera),
                       "Granted " + camera + " to " + user.user_id);
  }}, input, el("button", {type: "submit", class: "small"}, "Grant"));
  return [list, form];
}

function row(user, cameras) {
  const boxes = roleBoxes(user);
  const password = el("input", {type: "password", class: "short", autocomplete: "new-password", minlength: "8",
                                "aria-label": "New password for " + user.user_id});
  return el("tr", {"data-user": user.user_id},
    el("th", {scope: "row", class: "mono"}, user.user_id, user.user_id === login.user_id ? el("span", {class: "muted"}, " (you)") : null),
    el("td", {}, boxes, el("button", {type: "button", class: "small", onclick: () => {
      const roles = [...boxes.querySelectorAll("input:checked")].map((box) => box.value);
      change("PUT", "users/roles", "Roles of " + user.user_id + " saved", {new_roles: [{user_id: user.user_id, roles}]});
    }}, "Save roles")),
    el("td", {}, cameraCell(user, cameras)),
    el("td", {}, el("form", {class: "grant-form", onsubmit: (e) => {
      e.preventDefault();
      const own = user.user_id === login.user_id;
      change("POST", "users", "Password of " + user.user_id + " changed", {user_id: user.user_id, password: password.value},
             own ? () => logIn(user.user_id, password.value).then((l) => { login = l; }) : null);
    }}, password, el("button", {type: "submit", class: "small"}, "Set password")),
    el("button", {type: "button", class: "small danger", onclick: () => {
      if (confirm("Delete user " + user.user_id + "?")) change("DELETE", userPath(user.user_id), "Deleted " + user.user_id);
    }}, "Delete")));
}

/** Send one change, then (after `then`, e.g. logging in again with a new password) show the users again. */
async function change(method, path, done, body, then) {
  try {
    await getJSON(path, {auth: true, method, body});
    if (then) await then();
    await render();
    setStatus("status", done + ".");
  } catch (error) {
    setStatus("status", error.message, true);
  }
}

async function render() {
  const {users} = await getJSON("users", {auth: true});
  const grants = await Promise.all(users.map((u) => getJSON(grantsPath(u.user_id), {auth: true})));
  $("user-count").textContent = "(" + users.length + ")";
  $("users").replaceChildren(
    el("datalist", {id: "camera-ids"}, knownCameras.map((c) => el("option", {value: c.id}))),
    el("table", {}, el("thead", {}, el("tr", {}, ["User", "Roles", "Cameras it may import for", "Password / delete"]
      .map((h) => el("th", {scope: "col"}, h)))),
    el("tbody", {}, users.map((user, i) => row(user, grants[i].cameras)))));
}

async function start() {
  login = adminPage("users", ["camera_admin"]);
  if (!login) return;
  knownCameras = await loadCameras().catch(() => []);
  $("new-user").addEventListener("submit", (e) => {
    e.preventDefault();
    const roles = ROLES.filter((role) => $("new-role-" + role).checked);
    change("POST", "users", "Added " + $("new-user-id").value,
           {user_id: $("new-user-id").value.trim(), password: $("new-user-password").value, roles})
      .then(() => { if (!$("status").classList.contains("error")) $("new-user").reset(); });
  });
  try {
    await render();
  } catch (error) {
    setStatus("status", "Could not load the users: " + error.message, true);
  }
}

start();
