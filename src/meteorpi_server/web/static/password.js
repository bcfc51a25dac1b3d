// Change your own password (web/password, any logged-in user): PUT /login/password, then log in
// again with the new password so this tab's stored credentials stay valid.
import {$, getJSON, logIn, setStatus} from "./app.js";
import {adminPage} from "./admin.js";

const login = adminPage("password", ["user"]);
if (login) {
  $("password-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const current = $("current-password").value;
    const fresh = $("new-password").value;
    if (fresh !== $("repeat-password").value) {
      setStatus("status", "The two new passwords differ.", true);
      $("repeat-password").focus();
      return;
    }
    try {
      await getJSON("login/password", {auth: true, method: "PUT",
                                       body: {current_password: current, new_password: fresh}});
      await logIn(login.user_id, fresh);
      $("password-form").reset();
      setStatus("status", "Password of " + login.user_id + " changed.");
    } catch (error) {
      setStatus("status", "Not changed: " + error.message, true);
    }
  });
}
