/* The compliance report for a chosen range, each finding linked to its entries. */
import { byId, clearAlert, h, has, showProblem, t } from "./shared.js";
import { audit, gatewayJwks } from "./audit.js";
import {
  columns,
  consoleHref,
  dayOf,
  dayStart,
  entryLink,
  filterLink,
  shiftDay,
  table,
  treeHeadTerms,
  when,
} from "./parts.js";
import { verifyTreeHead } from "./verify.js";

const SHOWN_LEAVES = 12;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function wireCompliance() {
  const params = new URLSearchParams(window.location.search);
  const form = byId("report-form");
  const today = dayOf(Date.now());
  form.elements.from.value = DAY.test(params.get("from") || "")
    ? params.get("from")
    : shiftDay(today, -6);
  form.elements.to.value = DAY.test(params.get("to") || "") ? params.get("to") : today;
  form.elements.lender_id.value = params.get("lender_id") || "";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearAlert();
    const from = form.elements.from.value;
    const to = form.elements.to.value;
    if (!DAY.test(from) || !DAY.test(to) || to < from) {
      showProblem(t("report_range_invalid"));
      return;
    }
    window.location.assign(
      consoleHref("/compliance", { from, to, lender_id: form.elements.lender_id.value.trim() }),
    );
  });
}

export async function showCompliance() {
  const params = new URLSearchParams(window.location.search);
  const box = byId("report");
  const from = params.get("from");
  const to = params.get("to");
  if (!DAY.test(from || "") || !DAY.test(to || "")) {
    box.replaceChildren(h("p", { class: "card muted" }, t("report_choose")));
    return;
  }
  if (to < from) {
    showProblem(t("report_range_invalid"));
    return;
  }
  box.replaceChildren(h("p", { class: "card muted" }, t("loading")));
  const [report, jwks] = await Promise.all([
    audit("/reports/compliance", {
      from: dayStart(from),
      to: dayStart(shiftDay(to, 1)),
      lender_id: params.get("lender_id"),
    }),
    gatewayJwks(),
  ]);
  const headResult = await verifyTreeHead(report.tree_head, jwks);
  box.replaceChildren(
    h(
      "section",
      { class: "card", "aria-labelledby": "summary-heading" },
      h("h2", { id: "summary-heading" }, t("section_summary")),
      h(
        "p",
        { class: "muted small" },
        t("report_generated", { from, until: to, at: when(report.generated_at) }),
      ),
      summaryTiles(report.summary),
      h("h3", {}, t("report_covering")),
      treeHeadTerms(report.tree_head, headResult, "report-head"),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "findings-heading" },
      h("h2", { id: "findings-heading" }, t("section_findings")),
      findingsTable(report.findings),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "releases-heading" },
      h("h2", { id: "releases-heading" }, t("section_releases")),
      releasesTable(report.releases),
    ),
  );
}

function summaryTiles(summary) {
  const tiles = [
    ["releases", "summary_releases"],
    ["compliant_releases", "summary_compliant"],
    ["denied_releases", "summary_denied"],
    ["findings", "summary_findings"],
  ];
  return h(
    "dl",
    { class: "tiles", id: "report-summary" },
    tiles.map(([name, label]) =>
      h(
        "div",
        {
          class: "tile" + (name === "findings" && summary[name] ? " tile-alert" : ""),
          dataset: { summary: name },
        },
        h("dt", {}, t(label)),
        h("dd", {}, String(summary[name] ?? 0)),
      ),
    ),
  );
}

function leafLinks(indexes) {
  const links = (list) => list.map((index) => h("li", {}, entryLink(index)));
  if (indexes.length <= SHOWN_LEAVES) return h("ul", { class: "leaf-links" }, links(indexes));
  return h(
    "div",
    {},
    h("ul", { class: "leaf-links" }, links(indexes.slice(0, SHOWN_LEAVES))),
    h(
      "details",
      {},
      h("summary", {}, "+" + (indexes.length - SHOWN_LEAVES)),
      h("ul", { class: "leaf-links" }, links(indexes.slice(SHOWN_LEAVES))),
    ),
  );
}

function findingsTable(findings) {
  if (!findings.length) return h("p", { class: "muted", id: "no-findings" }, t("no_findings"));
  return table(
    { id: "findings" },
    columns("col_severity", "col_kind", "col_detail", "col_lender", "col_consent", "col_leaves"),
    findings.map((finding) =>
      h(
        "tr",
        { dataset: { kind: finding.kind, severity: finding.severity } },
        h(
          "td",
          {},
          h(
            "span",
            { class: "badge severity-" + finding.severity },
            has("severity_" + finding.severity)
              ? t("severity_" + finding.severity)
              : finding.severity,
          ),
        ),
        h(
          "td",
          {},
          has("kind_" + finding.kind) ? t("kind_" + finding.kind) : h("code", {}, finding.kind),
        ),
        h("td", { class: "small" }, finding.detail),
        h("td", {}, filterLink("lender_id", finding.lender_id)),
        h("td", {}, filterLink("consent_id", finding.consent_id)),
        h("td", {}, leafLinks(finding.leaf_indexes || [])),
      ),
    ),
  );
}

function releasesTable(releases) {
  if (!releases.length) return h("p", { class: "muted" }, t("no_releases"));
  return table(
    { id: "release-checks" },
    columns("col_index", "col_time", "col_lender", "col_consent", "col_status", "col_checks"),
    releases.map((release) => {
      const failedChecks = Object.entries(release.checks || {})
        .filter(([, ok]) => !ok)
        .map(([name]) => (has("check_" + name) ? t("check_" + name) : name));
      return h(
        "tr",
        { dataset: { index: release.leaf_index, compliant: String(release.compliant) } },
        h("td", {}, entryLink(release.leaf_index)),
        h("td", { class: "nowrap" }, when(release.ts)),
        h("td", {}, filterLink("lender_id", release.lender_id)),
        h("td", {}, filterLink("consent_id", release.consent_id)),
        h(
          "td",
          {},
          release.consent_status ? t("status_" + release.consent_status) : t("status_none"),
        ),
        h(
          "td",
          { class: release.compliant ? "ok" : "bad" },
          release.compliant
            ? t("compliant_yes")
            : t("compliant_no", { checks: failedChecks.join(t("list_separator")) }),
        ),
      );
    }),
  );
}
