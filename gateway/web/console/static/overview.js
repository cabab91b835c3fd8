/* The console's overview: the latest signed and co-signed tree heads, checked in the
 * browser, and releases per day. */
import { byId, h, s, t } from "./shared.js";
import { audit, gatewayJwks, scan, SCAN_MAX_PAGES, SCAN_PAGE } from "./audit.js";
import {
  columns,
  dayOf,
  dayStart,
  part,
  shiftDay,
  table,
  treeHeadTerms,
  verdict,
  when,
} from "./parts.js";
import { verifyConsistency, verifyTreeHead } from "./verify.js";

const CHART_DAYS = 30;
const COSIGNED = /^tree head (\d+) root [0-9a-f]{64}$/;

function cosignatureList(head, id) {
  const cosignatures = head.cosignatures || [];
  if (!cosignatures.length) return h("p", { class: "muted", id }, t("no_cosignatures"));
  return table(
    { id },
    columns("witness", "cosigned_at"),
    cosignatures.map((cosignature) =>
      h(
        "tr",
        { dataset: { witness: cosignature.witness } },
        h("td", {}, h("code", { class: "mono" }, cosignature.witness)),
        h("td", {}, when(cosignature.signed_at)),
      ),
    ),
  );
}

export async function showOverview() {
  const headBox = byId("tree-head");
  const cosignedBox = byId("cosigned-head");
  const chartBox = byId("chart");
  let current = null;
  const heads = async () => {
    await part(headBox, async () => {
      const [head, jwks] = await Promise.all([audit("/sth"), gatewayJwks()]);
      const result = await verifyTreeHead(head, jwks);
      current = { head, result };
      headBox.replaceChildren(
        treeHeadTerms(head, result, "sth"),
        h("h3", {}, t("cosignatures")),
        cosignatureList(head, "sth-cosignatures"),
        h("p", { class: "muted small" }, t("cosignature_note")),
      );
    });
    await part(cosignedBox, () => showCosignedHead(cosignedBox, current));
  };
  await Promise.all([heads(), part(chartBox, () => showChart(chartBox))]);
}

// The largest tree head a witness co-signed in the last 30 days, read from the log's
// `audit.cosigned` entries (the API serves heads by size, not by co-signature).
async function latestCosignedSize() {
  const since = dayStart(shiftDay(dayOf(Date.now()), -(CHART_DAYS - 1)));
  let largest = null;
  await scan({ type: "audit.cosigned", since }, (entry) => {
    const found = COSIGNED.exec(String(entry.leaf.reason || ""));
    if (found && (largest === null || Number(found[1]) > largest)) largest = Number(found[1]);
  });
  return largest;
}

async function showCosignedHead(box, current) {
  const size = await latestCosignedSize();
  if (size === null) {
    box.replaceChildren(h("p", { class: "muted", id: "cosigned-none" }, t("no_cosigned_head")));
    return;
  }
  const [head, jwks] = await Promise.all([audit("/sth", { tree_size: size }), gatewayJwks()]);
  const result = await verifyTreeHead(head, jwks);
  box.replaceChildren(
    treeHeadTerms(head, result, "cosigned"),
    h("h3", {}, t("cosignatures")),
    cosignatureList(head, "cosigned-cosignatures"),
    h("h3", {}, t("consistency")),
    await consistencyVerdict(head, result, current),
  );
}

// Whether the current head only extends the co-signed one: RFC 9162 consistency proof,
// checked against the two roots the gateway signed.
async function consistencyVerdict(cosigned, cosignedResult, current) {
  let result;
  if (!current) result = { state: "unavailable", reason: "no_head", vars: {} };
  else if (cosignedResult.state !== "verified") result = cosignedResult;
  else if (current.result.state !== "verified") {
    result = { state: "failed", reason: "head_unverified", vars: {} };
  } else {
    const first = cosignedResult.claims;
    const second = current.result.claims;
    let path = [];
    if (first.tree_size !== second.tree_size) {
      const proof = await audit("/proofs/consistency", {
        first: first.tree_size,
        second: second.tree_size,
      });
      path = proof.consistency_path;
    }
    result = await verifyConsistency(
      first.tree_size,
      second.tree_size,
      first.root_hash,
      second.root_hash,
      path,
    );
    if (result.state === "verified") {
      const text =
        first.tree_size === second.tree_size ? t("consistency_same") : t("consistency_verified");
      return verdict(result, "consistency", text);
    }
  }
  return verdict(result, "consistency");
}

// ---- the chart -------------------------------------------------------------------------

// Releases per Beijing day, from the log's own release.granted / release.denied entries:
// the compliance report counts refusals only in total, and reading the two types in
// large pages costs a handful of requests (each one an audit event) for a month of a
// busy gateway, without replaying any consent history.
async function showChart(box) {
  const today = dayOf(Date.now());
  const days = [];
  for (let back = CHART_DAYS - 1; back >= 0; back -= 1) days.push(shiftDay(today, -back));
  const since = dayStart(days[0]);
  const series = ["granted", "denied"];
  const counts = { granted: new Map(), denied: new Map() };
  const complete = await Promise.all(
    series.map((name) =>
      scan({ type: "release." + name, since }, (entry) => {
        const day = dayOf(entry.leaf.ts);
        counts[name].set(day, (counts[name].get(day) || 0) + 1);
      }),
    ),
  );
  const rows = days.map((day) => ({
    day,
    granted: counts.granted.get(day) || 0,
    denied: counts.denied.get(day) || 0,
  }));
  const total = (name) => rows.reduce((sum, row) => sum + row[name], 0);
  const chart = h("div", { class: "chart-wrap" }, barChart(rows, series, box.clientWidth));
  redrawOnResize(chart, (width) => barChart(rows, series, width));
  box.replaceChildren(
    h(
      "ul",
      { class: "legend" },
      series.map((name) =>
        h(
          "li",
          {},
          h("span", { class: "swatch swatch-" + name, "aria-hidden": "true" }),
          t("chart_" + name),
        ),
      ),
    ),
    chart,
    h(
      "p",
      { class: "small", id: "chart-total" },
      t("chart_total", { granted: total("granted"), denied: total("denied") }),
    ),
    ...(complete.every(Boolean)
      ? []
      : [
          h(
            "p",
            { class: "alert small" },
            t("chart_truncated", { n: SCAN_PAGE * SCAN_MAX_PAGES }),
          ),
        ]),
    chartTable(rows, series),
  );
}

// The chart is drawn for its width (text at the page's size); a much wider or narrower
// box (a resized window, a turned phone) gets it drawn again.
function redrawOnResize(wrap, draw) {
  if (typeof ResizeObserver !== "function") return;
  let drawnFor = wrap.clientWidth;
  new ResizeObserver(() => {
    const width = wrap.clientWidth;
    if (!width || Math.abs(width - drawnFor) < drawnFor * 0.1) return;
    drawnFor = width;
    wrap.replaceChildren(draw(width));
  }).observe(wrap);
}

// Steps of 1, 2 or 5 times a power of ten, so the axis reads in round numbers.
function niceCeiling(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value / 4));
  for (const step of [1, 2, 5, 10]) {
    if (step * power * 4 >= value) return step * power * 4;
  }
  return value;
}

// Drawn at the width of its box, so its text reads at the page's size; it scales from there.
function barChart(rows, series, boxWidth) {
  const width = Math.max(320, Math.round(boxWidth || 760));
  const height = 240;
  const margin = { top: 12, right: 18, bottom: 30, left: 44 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const top = niceCeiling(Math.max(...rows.flatMap((row) => series.map((name) => row[name]))));
  const y = (count) => margin.top + plotHeight - (count / top) * plotHeight;
  const slot = plotWidth / rows.length;
  const gap = Math.max(2, slot * 0.18);
  const barWidth = (slot - gap) / series.length;

  const grid = [0, 1, 2, 3, 4].map((step) => {
    const value = (top / 4) * step;
    return s(
      "g",
      { class: "tick" },
      s("line", {
        x1: margin.left,
        x2: width - margin.right,
        y1: y(value),
        y2: y(value),
        class: step ? "grid" : "axis",
      }),
      s("text", { x: margin.left - 6, y: y(value) + 4, "text-anchor": "end" }, String(value)),
    );
  });
  const labels = rows
    .map((row, i) => ({ row, i }))
    // Every fifth day, counted back from today.
    .filter(({ i }) => (rows.length - 1 - i) % 5 === 0)
    .map(({ row, i }) =>
      s(
        "text",
        {
          x: margin.left + slot * (i + 0.5),
          y: height - 10,
          "text-anchor": "middle",
          class: "day",
        },
        row.day.slice(5),
      ),
    );
  const bars = rows.flatMap((row, i) =>
    series.map((name, j) => {
      const value = row[name];
      return s(
        "rect",
        {
          class: "bar bar-" + name,
          x: (margin.left + slot * i + gap / 2 + barWidth * j).toFixed(2),
          y: y(value).toFixed(2),
          width: barWidth.toFixed(2),
          height: (margin.top + plotHeight - y(value)).toFixed(2),
          dataset: { day: row.day, series: name, count: String(value) },
        },
        s(
          "title",
          {},
          t("chart_bar_title", { day: row.day, series: t("chart_" + name), count: value }),
        ),
      );
    }),
  );
  return s(
    "svg",
    {
      id: "release-chart",
      class: "chart",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": t("chart_label"),
      preserveAspectRatio: "xMidYMid meet",
    },
    s("g", { class: "grid-lines" }, grid),
    s("g", { class: "bars" }, bars),
    s("g", { class: "labels" }, labels),
  );
}

function chartTable(rows, series) {
  return h(
    "details",
    { class: "chart-table" },
    h("summary", {}, t("chart_table")),
    table(
      { class: "table compact" },
      [
        h("th", { scope: "col" }, t("chart_day")),
        series.map((name) => h("th", { scope: "col", class: "num" }, t("chart_" + name))),
      ],
      rows.map((row) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, row.day),
          series.map((name) => h("td", { class: "num" }, String(row[name]))),
        ),
      ),
    ),
  );
}
