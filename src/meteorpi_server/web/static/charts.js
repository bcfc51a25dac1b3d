// Small charts drawn as inline SVG (no chart library): bar charts whose every bar has a <title>
// and whose numbers are also in a table, and a calendar of months.
import {el, svg, formatNumber} from "./app.js";

/** A bar chart of `points` ([{key, label, value, title}], value null = no data).
 *  Returns a <figure> with the SVG (each bar keyboard-focusable, titled, with data-key and
 *  data-value) and a table of the same numbers. */
export function barChart(points, options) {
  const {caption, unit = "", max: fixedMax, height = 180, className = "", tickEvery = 1, id} = options || {};
  if (!points.length) return el("p", {class: "muted", id}, "No data.");
  const values = points.map((p) => (typeof p.value === "number" ? p.value : 0));
  const max = fixedMax || Math.max(1, ...values);
  const left = 34, bottom = 26, top = 8;
  const slot = Math.max(4, Math.min(28, 900 / Math.max(1, points.length)));
  const width = left + slot * points.length + 6;
  const plot = height - bottom - top;
  const y = (v) => top + plot - (v / max) * plot;
  const root = svg("svg", {class: "chart", viewBox: "0 0 " + width + " " + height, role: "group",
                           "aria-label": caption, width: width, height: height});
  for (const tick of [0, max / 2, max]) {
    root.append(svg("line", {class: "axis", x1: left - 3, x2: width, y1: y(tick), y2: y(tick)}),
                svg("text", {x: left - 6, y: y(tick) + 3, "text-anchor": "end"}, formatNumber(Math.round(tick * 10) / 10)));
  }
  points.forEach((p, i) => {
    const x = left + i * slot;
    if (typeof p.value === "number") {
      const title = p.title || p.label + ": " + formatNumber(p.value) + unit;
      root.append(svg("rect", {class: "bar " + className, x: x + 1, y: y(p.value), width: slot - 2,
                               height: Math.max(0, y(0) - y(p.value)), tabindex: 0, role: "img",
                               "aria-label": title, "data-key": p.key, "data-value": p.value},
                      svg("title", {}, title)));
    }
    if (i % tickEvery === 0) {
      root.append(svg("text", {x: x + slot / 2, y: height - bottom + 14, "text-anchor": "middle"}, p.short || p.label));
    }
  });
  const table = el("table", {class: "chart-table"},
    el("thead", {}, el("tr", {}, el("th", {scope: "col"}, options.keyLabel || "bin"),
                                 el("th", {scope: "col"}, options.valueLabel || "value"))),
    el("tbody", {}, points.filter((p) => typeof p.value === "number").map((p) =>
      el("tr", {"data-key": p.key}, el("th", {scope: "row"}, p.label), el("td", {}, formatNumber(p.value) + unit)))));
  return el("figure", {class: "chart-figure", id},
    el("div", {class: "table-wrap"}, root),
    el("figcaption", {class: "muted"}, caption),
    el("details", {}, el("summary", {}, "the numbers"), table));
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"];

/** A calendar of the months from the first to the last night in `nights` (Map "YYYY-MM-DD" →
 *  count); nights with data are marked, with their count in a title. At most `limit` months
 *  (the latest). */
export function calendar(nights, options) {
  const {limit = 12, link} = options || {};
  const names = [...nights.keys()].sort();
  if (!names.length) return el("p", {class: "muted"}, "No nights with data.");
  const first = new Date(names[0] + "T00:00:00Z"), last = new Date(names[names.length - 1] + "T00:00:00Z");
  const months = [];
  for (let y = first.getUTCFullYear(), m = first.getUTCMonth();
       y < last.getUTCFullYear() || (y === last.getUTCFullYear() && m <= last.getUTCMonth());
       m === 11 ? (y++, m = 0) : m++) months.push([y, m]);
  const peak = Math.max(...nights.values());
  return el("div", {class: "calendar"}, months.slice(-limit).map(([year, month]) => {
    const days = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    const offset = (new Date(Date.UTC(year, month, 1)).getUTCDay() + 6) % 7;  // weeks start on Monday
    const cells = [];
    for (let i = 0; i < offset; i++) cells.push(el("td", {}));
    for (let day = 1; day <= days; day++) {
      const name = year + "-" + String(month + 1).padStart(2, "0") + "-" + String(day).padStart(2, "0");
      const count = nights.get(name);
      const label = count ? "night of " + name + ": " + count + " records" : null;
      cells.push(el("td", {class: count ? (count > peak / 2 ? "has many" : "has") : null, title: label,
                           "data-night": count ? name : null},
        count && link ? el("a", {href: link(name), "aria-label": label}, String(day)) : String(day)));
    }
    const rows = [];
    for (let i = 0; i < cells.length; i += 7) rows.push(el("tr", {}, cells.slice(i, i + 7)));
    return el("table", {},
      el("caption", {}, MONTHS[month] + " " + year),
      el("thead", {}, el("tr", {}, ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"].map((d) => el("th", {scope: "col"}, d)))),
      el("tbody", {}, rows));
  }));
}
