/* The console's audit log: filtered by lender, consent, event type and time, a page at a
 * time. */
import { byId, h, t } from "./shared.js";
import { audit } from "./audit.js";
import {
  columns,
  consoleHref,
  entryLink,
  eventLabel,
  filterLink,
  table,
  when,
} from "./parts.js";

const ENTRIES_PAGE = 50;

const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

// A datetime-local value read as Beijing time, as the API wants it (RFC 3339).
function beijingTime(value) {
  if (!value) return null;
  if (!LOCAL_TIME.test(value)) return value;
  return value + (value.length === 16 ? ":00" : "") + "+08:00";
}

const FILTERS = ["lender_id", "consent_id", "type", "since", "until"];

function wireFilters(form, params) {
  for (const name of FILTERS) {
    if (params.get(name)) form.elements[name].value = params.get(name);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {};
    for (const name of FILTERS) chosen[name] = form.elements[name].value.trim();
    window.location.assign(consoleHref("/entries", chosen));
  });
}

export function wireEntries() {
  wireFilters(byId("filter-form"), new URLSearchParams(window.location.search));
}

export async function showEntries() {
  const params = new URLSearchParams(window.location.search);
  const box = byId("entries");
  box.replaceChildren(h("p", { class: "muted" }, t("loading")));
  const cursor = params.get("cursor");
  const found = await audit("/entries", {
    lender_id: params.get("lender_id"),
    consent_id: params.get("consent_id"),
    type: params.get("type"),
    since: beijingTime(params.get("since")),
    until: beijingTime(params.get("until")),
    cursor,
    limit: ENTRIES_PAGE,
  });
  const kept = {};
  for (const name of FILTERS) kept[name] = params.get(name);
  const paging = h(
    "p",
    { class: "paging" },
    cursor
      ? h("a", { href: consoleHref("/entries", kept), id: "first-page" }, t("first_page"))
      : null,
    found.next_cursor
      ? h(
          "a",
          {
            href: consoleHref("/entries", { ...kept, cursor: found.next_cursor }),
            id: "next-page",
          },
          t("next_page"),
        )
      : null,
  );
  if (!found.entries.length) {
    box.replaceChildren(
      h("p", { class: "muted", id: "entries-empty" }, t("entries_empty")),
      paging,
    );
    return;
  }
  const first = found.entries[0].index;
  const last = found.entries[found.entries.length - 1].index;
  box.replaceChildren(
    h(
      "p",
      { class: "muted small" },
      t("entries_shown", { n: found.entries.length, first, last }),
    ),
    table(
      { id: "entries-table" },
      columns(
        "col_index",
        "col_time",
        "col_type",
        "col_actor",
        "col_lender",
        "col_consent",
        "col_outcome",
      ),
      found.entries.map(entryRow),
    ),
    paging,
  );
}

function entryRow(entry) {
  const leaf = entry.leaf || {};
  return h(
    "tr",
    { dataset: { index: entry.index, type: leaf.type } },
    h("td", {}, entryLink(entry.index)),
    h("td", { class: "nowrap" }, when(leaf.ts)),
    h(
      "td",
      {},
      h("span", { class: "event" }, eventLabel(leaf.type)),
      h("code", { class: "muted small block" }, leaf.type),
    ),
    h("td", { class: "small" }, leaf.actor ? h("code", {}, leaf.actor) : "—"),
    h("td", {}, filterLink("lender_id", leaf.lender_id)),
    h("td", {}, filterLink("consent_id", leaf.consent_id)),
    h("td", { class: "small" }, outcomeText(leaf)),
  );
}

function outcomeText(leaf) {
  return [leaf.outcome, leaf.reason].filter(Boolean).join(" · ") || "—";
}
