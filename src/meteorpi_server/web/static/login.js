// The login page (web/login?next=<page>): checks the credentials with GET /login.
import {$, chrome, logIn, pageUrl, readParams, setStatus} from "./app.js";

chrome("login");
$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  setStatus("status", "Checking\u2026");
  try {
    const login = await logIn($("login-user").value, $("login-password").value);
    setStatus("status", "Logged in as " + login.user_id + " (" + login.roles.join(", ") + ").");
    const next = readParams().get("next") || "";
    // Only a page of this site: a name and a query, never another origin or path.
    location.assign(/^[a-z0-9-]*(\?[^#]*)?$/.test(next) ? pageUrl("") + next : pageUrl(""));
  } catch (error) {
    setStatus("status", "Could not log in: " + error.message, true);
    $("login-password").select();
  }
});
