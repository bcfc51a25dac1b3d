// Export configurations and their queues (web/exports, camera_admin): GET /export, then
// GET /export/<id>/queue each; enable/disable with PUT /export/<id> (the stored password is
// kept), re-run with POST /export/<id>/queue/rerun.
import {$, el, getJSON, setStatus, timeElement} from "./app.js";
import {adminPage} from "./admin.js";

const exportPath = (id, rest) => "export/" + encodeURIComponent(id) + (rest ? "/" + rest : "");

function stateOf(config, queue) {
  if (!config.enabled) return el("strong", {class: "warn"}, "disabled");
  if (queue.failure_count > 0) return el("strong", {class: "error"}, "failing (" + queue.failure_count + " in a row)");
  return el("span", {class: "ok"}, "enabled");
}

function describeSearch(search) {
  const fields = Object.entries(search || {}).filter(([key]) => key !== "limit" && key !== "skip");
  return fields.length ? el("code", {}, JSON.stringify(Object.fromEntries(fields))) : el("span", {class: "muted"}, "everything");
}

function row(config, queue) {
  const name = config.config_name;
  const toggle = () => {
    const {password_set, ...rest} = config;  // eslint-disable-line no-unused-vars
    act(exportPath(config.config_id), "PUT", {...rest, enabled: !config.enabled},
        (config.enabled ? "Disabled " : "Enabled ") + name);
  };
  return el("tr", {"data-config": config.config_id},
    el("th", {scope: "row"}, name, el("div", {class: "muted mono"}, config.config_id)),
    el("td", {}, config.type + "s to ", el("span", {class: "mono"}, config.target_url), " as ", config.user_id,
       el("div", {}, describeSearch(config.search))),
    el("td", {class: "queue-state"}, stateOf(config, queue)),
    el("td", {class: "queue-due"}, String(queue.due)),
    el("td", {class: queue.deferred ? "queue-deferred error" : "queue-deferred"}, String(queue.deferred)),
    el("td", {class: "queue-completed"}, String(queue.completed)),
    el("td", {}, timeElement(queue.next_export_time)),
    el("td", {}, el("div", {class: "actions"},
      el("button", {type: "button", class: "small", onclick: toggle,
                    "aria-label": (config.enabled ? "Disable " : "Enable ") + name}, config.enabled ? "Disable" : "Enable"),
      el("button", {type: "button", class: "small", disabled: queue.pending === 0 && queue.failure_count === 0,
                    "aria-label": "Re-run " + name,
                    onclick: () => act(exportPath(config.config_id, "queue/rerun"), "POST", undefined, "Re-ran " + name)},
         "Re-run"))));
}

async function act(path, method, body, done) {
  try {
    const answer = await getJSON(path, {auth: true, method, body});
    await render();
    setStatus("status", done + (answer && typeof answer.rerun === "number" ? ": " + answer.rerun + " tasks due now" : "") + ".");
  } catch (error) {
    setStatus("status", error.message, true);
  }
}

async function render() {
  const {configs} = await getJSON("export", {auth: true});
  const queues = await Promise.all(configs.map((c) => getJSON(exportPath(c.config_id, "queue"), {auth: true})));
  if (!configs.length) {
    $("exports").replaceChildren(el("p", {class: "notice"}, "This node has no export configurations (add one with ",
      el("code", {}, "meteorpi export add"), ")."));
    return;
  }
  const head = ["Configuration", "What, where", "State", "Due", "Deferred", "Completed", "Next export", "Actions"];
  $("exports").replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {scope: "col"}, h)))),
    el("tbody", {}, configs.map((config, i) => row(config, queues[i].queue)))));
}

async function start() {
  if (!adminPage("exports", ["camera_admin"])) return;
  try {
    await render();
  } catch (error) {
    setStatus("status", "Could not load the export configurations: " + error.message, true);
  }
}

start();
