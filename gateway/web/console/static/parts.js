/* The regulator console's building blocks: addresses, times and days, verdicts, tree
 * heads, and the parts of a page that fail on their own. */
import { beijingTimes, errorText, h, has, lang, SessionEnded, t } from "./shared.js";
import { jwsPart, queryString } from "./audit.js";

const PREFIX = "/regulator";
const DAY_MS = 24 * 60 * 60 * 1000;

// ---- text --------------------------------------------------------------------------------

export const when = beijingTimes({ second: "2-digit" });

// en-CA writes YYYY-MM-DD: a Beijing calendar day as a sortable key.
const dayFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Asia/Shanghai",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});

export function dayOf(value) {
  return dayFormat.format(new Date(value));
}

// Beijing has kept UTC+8 all year since 1991: a day starts at 00:00+08:00.
export function dayStart(day) {
  return day + "T00:00:00+08:00";
}

export function shiftDay(day, days) {
  return dayOf(Date.parse(dayStart(day)) + days * DAY_MS + DAY_MS / 2);
}

export function eventLabel(type) {
  return has("event_" + type) ? t("event_" + type) : h("code", {}, type);
}

export function reasonText(result) {
  const key = "reason_" + result.reason;
  return has(key) ? t(key, result.vars) : String(result.reason || "");
}

// ---- DOM ---------------------------------------------------------------------------------

export function consoleHref(path, params) {
  return PREFIX + path + queryString({ ...params, lang: lang === "en" ? "en" : null });
}

export function entryLink(index) {
  return h(
    "a",
    {
      href: consoleHref("/entries/" + encodeURIComponent(index)),
      class: "mono",
      dataset: { leaf: index },
    },
    "#" + index,
  );
}

export function hash(value, id) {
  return h("code", { class: "hash", id }, value === null || value === undefined ? "—" : value);
}

export function terms(rows, id) {
  return h(
    "dl",
    { class: "terms", id },
    rows.map(([label, value]) =>
      h("div", { class: "term" }, h("dt", {}, label), h("dd", {}, value)),
    ),
  );
}

export const MARKS = { verified: "✓", failed: "✗", unavailable: "?", pending: "…", skipped: "—" };

function verdictText(result) {
  if (result.state === "verified") return t("verify_verified");
  if (result.state === "failed") return t("verify_failed", { reason: reasonText(result) });
  if (result.state === "unavailable") {
    return t("verify_unavailable", { reason: reasonText(result) });
  }
  return t("verify_pending");
}

// The outcome of a check. "verified" is shown only for a check that verified.
export function verdict(result, id, text) {
  return h(
    "p",
    { class: "verdict verdict-" + result.state, id, dataset: { state: result.state } },
    h("span", { class: "verdict-mark", "aria-hidden": "true" }, MARKS[result.state] || "?"),
    " ",
    text || verdictText(result),
  );
}

export function filterLink(name, value, text) {
  if (!value) return "—";
  return h(
    "a",
    { href: consoleHref("/entries", { [name]: value }), class: "mono" },
    text || h("code", {}, value),
  );
}

// A table in a box that scrolls sideways on a narrow screen.
export function table(props, headings, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table", ...props },
      h("thead", {}, h("tr", {}, headings)),
      h("tbody", {}, rows),
    ),
  );
}

// Column headings, from their message keys.
export function columns(...keys) {
  return keys.map((key) => h("th", { scope: "col" }, t(key)));
}

// One part of a page: its failure is shown in its place and the rest of the page goes on.
export async function part(container, action) {
  try {
    await action();
  } catch (error) {
    if (error instanceof SessionEnded) throw error;
    container.replaceChildren(h("p", { class: "alert" }, errorText(error)));
  }
}

// ---- tree heads --------------------------------------------------------------------------

export function treeHeadTerms(head, result, id) {
  // Once the signature verified, show exactly what was signed.
  const shown = result.state === "verified" ? result.claims : head;
  return terms(
    [
      [t("tree_size"), h("span", { class: "mono", id: id + "-size" }, String(shown.tree_size))],
      [t("root_hash"), hash(shown.root_hash, id + "-root")],
      [t("tree_time"), when(shown.timestamp)],
      [t("signing_key"), hash(result.kid || kidOf(head.sth))],
      [t("signature"), verdict(result, id + "-signature")],
    ],
    id,
  );
}

function kidOf(sth) {
  const header = jwsPart(sth, 0);
  return header && typeof header.kid === "string" ? header.kid : "—";
}
