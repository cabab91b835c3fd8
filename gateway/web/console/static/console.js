/* Lendgate regulator console.
 *
 * Talks only to the gateway's audit JSON API (/v1/audit/...) with the regulator's access
 * token, and to /.well-known/jwks.json for the gateway's public keys. What it can check by
 * itself it checks here, with WebCrypto (verify.js): tree-head signatures, leaf hashes,
 * inclusion and consistency proofs. Every value from the API is put on the page as text
 * (textContent / text nodes), never as markup, and no handler lives in an HTML attribute,
 * so a strict CSP fits.
 */
(function () {
  "use strict";

  const V = window.LendgateVerify;
  const body = document.body;
  const messages = JSON.parse(document.getElementById("console-messages").textContent);
  const page = body.dataset.page;
  const lang = document.documentElement.lang === "en" ? "en" : "zh";
  const PREFIX = "/regulator";
  const SVG = "http://www.w3.org/2000/svg";
  const DAY_MS = 24 * 60 * 60 * 1000;
  const CHART_DAYS = 30;
  const ENTRIES_PAGE = 50;
  // The chart and the co-signed head are counted from pages of the log; each read is itself
  // an audit event, so pages are as large as the API allows, and their number is capped.
  const SCAN_PAGE = 500;
  const SCAN_MAX_PAGES = 200;
  const SHOWN_LEAVES = 12;
  const COSIGNED = /^tree head (\d+) root [0-9a-f]{64}$/;

  const byId = (id) => document.getElementById(id);
  const ui = {
    alert: byId("alert"),
    notice: byId("notice"),
    signin: byId("signin"),
    tokenForm: byId("token-form"),
    token: byId("token"),
    sessionInfo: byId("session-info"),
    signOut: byId("sign-out"),
    view: byId("view"),
  };

  // ---- text ------------------------------------------------------------------------------

  function has(key) {
    return Object.prototype.hasOwnProperty.call(messages, key);
  }

  function t(key, vars) {
    let text = has(key) ? messages[key] : key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  const timeFormat = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  // en-CA writes YYYY-MM-DD: a Beijing calendar day as a sortable key.
  const dayFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });

  function when(value) {
    if (value === null || value === undefined || value === "") return "—";
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : timeFormat.format(date);
  }

  function dayOf(value) {
    return dayFormat.format(new Date(value));
  }

  // Beijing has kept UTC+8 all year since 1991: a day starts at 00:00+08:00.
  function dayStart(day) {
    return day + "T00:00:00+08:00";
  }

  function shiftDay(day, days) {
    return dayOf(Date.parse(dayStart(day)) + days * DAY_MS + DAY_MS / 2);
  }

  function eventLabel(type) {
    return has("event_" + type) ? t("event_" + type) : type;
  }

  function reasonText(result) {
    const key = "reason_" + result.reason;
    return has(key) ? t(key, result.vars) : String(result.reason || "");
  }

  // ---- DOM -------------------------------------------------------------------------------

  // Builds an element; children that are not nodes become text nodes, so data stays text.
  function h(tag, props, ...children) {
    return fill(document.createElement(tag), props, children);
  }

  // The same for SVG elements (the chart).
  function s(tag, props, ...children) {
    return fill(document.createElementNS(SVG, tag), props, children);
  }

  function fill(node, props, children) {
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.setAttribute("class", value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function consoleHref(path, params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
    }
    if (lang === "en") query.set("lang", "en");
    const text = query.toString();
    return PREFIX + path + (text ? "?" + text : "");
  }

  function entryLink(index) {
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

  function hash(value, id) {
    return h("code", { class: "hash", id }, value === null || value === undefined ? "—" : value);
  }

  function terms(rows, id) {
    return h(
      "dl",
      { class: "terms", id },
      rows.map(([label, value]) =>
        h("div", { class: "term" }, h("dt", {}, label), h("dd", {}, value)),
      ),
    );
  }

  const MARKS = { verified: "✓", failed: "✗", unavailable: "?", pending: "…", skipped: "—" };

  function verdictText(result) {
    if (result.state === "verified") return t("verify_verified");
    if (result.state === "failed") return t("verify_failed", { reason: reasonText(result) });
    if (result.state === "unavailable") {
      return t("verify_unavailable", { reason: reasonText(result) });
    }
    return t("verify_pending");
  }

  // The outcome of a check. "verified" is shown only for a check that verified.
  function verdict(result, id, text) {
    return h(
      "p",
      { class: "verdict verdict-" + result.state, id, dataset: { state: result.state } },
      h("span", { class: "verdict-mark", "aria-hidden": "true" }, MARKS[result.state] || "?"),
      " ",
      text || verdictText(result),
    );
  }

  function showError(error) {
    let text;
    if (error instanceof ApiError) {
      const key = "error_" + error.code;
      text = has(key) ? t(key, { detail: error.detail || "—" }) : t("error_unknown");
    } else {
      text = t("error_unknown");
      console.error(error);
    }
    showProblem(text);
  }

  function showProblem(text) {
    ui.alert.textContent = text;
    ui.alert.hidden = false;
  }

  function clearAlert() {
    ui.alert.hidden = true;
    ui.alert.textContent = "";
  }

  function showNotice(text) {
    ui.notice.textContent = text;
  }

  // ---- the access token ------------------------------------------------------------------

  // Why sessionStorage: the token is a bearer credential good for a few minutes of audit
  // reads. sessionStorage keeps it to this tab — other tabs and windows never see it, and it
  // is gone when the tab closes (localStorage would keep it on disk) — and, unlike a cookie,
  // the browser never attaches it to a request by itself, so no other site can make this
  // browser spend it (no CSRF). Script on this origin could read it: hence no inline or
  // foreign script (CSP), text-only rendering, and the token's short lifetime.
  const TOKEN_KEY = "lendgate.regulator.token";
  const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

  // One part of a compact JWS as the JSON object it encodes, or null.
  function jwsPart(token, position) {
    try {
      const part = String(token).split(".")[position].replace(/-/g, "+").replace(/_/g, "/");
      const binary = atob(part + "===".slice((part.length + 3) % 4));
      const value = JSON.parse(
        new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))),
      );
      return value && typeof value === "object" ? value : null;
    } catch (error) {
      return null;
    }
  }

  // The token's claims, read without checking the signature: only to show who is signed in
  // and until when. The gateway checks the token on every call.
  function tokenClaims(token) {
    return jwsPart(token, 1);
  }

  const session = {
    load() {
      try {
        const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
        if (saved && saved.token && saved.expiresAt > Date.now()) return saved;
      } catch (error) {
        // A corrupt entry is treated as no session.
      }
      sessionStorage.removeItem(TOKEN_KEY);
      return null;
    },
    save(token, claims) {
      const expiresAt = Number.isFinite(claims.exp)
        ? claims.exp * 1000
        : Date.now() + 5 * 60 * 1000;
      const client = typeof claims.sub === "string" ? claims.sub : "";
      sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ token, client, expiresAt }));
    },
    clear() {
      sessionStorage.removeItem(TOKEN_KEY);
    },
  };

  // ---- API -------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(code, status, detail) {
      super(code);
      this.code = code;
      this.status = status;
      this.detail = detail;
    }
  }

  class SessionEnded extends Error {}

  async function api(path, params, token) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
    }
    const url = path + (query.toString() ? "?" + query.toString() : "");
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    let response;
    try {
      response = await fetch(url, { headers, credentials: "omit", cache: "no-store" });
    } catch (error) {
      throw new ApiError("NetworkError", 0);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const code = data && typeof data.error === "string" ? data.error : "unknown";
      const detail = data && typeof data.detail === "string" ? data.detail : "";
      throw new ApiError(code, response.status, detail);
    }
    return data;
  }

  async function audit(path, params) {
    const current = session.load();
    if (!current) throw new SessionEnded(t("token_expired"));
    try {
      return await api("/v1/audit" + path, params, current.token);
    } catch (error) {
      if (error instanceof ApiError && error.code === "InvalidToken") {
        throw new SessionEnded(t("token_refused"));
      }
      throw error;
    }
  }

  let jwksPromise = null;

  function gatewayJwks() {
    jwksPromise = jwksPromise || api("/.well-known/jwks.json");
    return jwksPromise;
  }

  // Every entry matching `params`, a page at a time, handed to `each`; true if all were read.
  async function scan(params, each) {
    let cursor = null;
    for (let pages = 0; pages < SCAN_MAX_PAGES; pages += 1) {
      const found = await audit("/entries", { ...params, limit: SCAN_PAGE, cursor });
      found.entries.forEach(each);
      cursor = found.next_cursor;
      if (!cursor) return true;
    }
    return false;
  }

  // Runs a page's work: shows any refusal in plain words; a refused token asks for a new one.
  async function run(action) {
    ui.view.setAttribute("aria-busy", "true");
    try {
      await action();
    } catch (error) {
      if (error instanceof SessionEnded) endSession(error.message);
      else showError(error);
    } finally {
      ui.view.setAttribute("aria-busy", "false");
    }
  }

  // One part of a page: its failure is shown in its place and the rest of the page goes on.
  async function part(container, action) {
    try {
      await action();
    } catch (error) {
      if (error instanceof SessionEnded) throw error;
      if (!(error instanceof ApiError)) console.error(error);
      const key = error instanceof ApiError ? "error_" + error.code : "error_unknown";
      container.replaceChildren(
        h(
          "p",
          { class: "alert" },
          has(key) ? t(key, { detail: error.detail || "—" }) : t("error_unknown"),
        ),
      );
    }
  }

  // ---- signing in ------------------------------------------------------------------------

  // What the page showed with the old token goes with it.
  function clearData() {
    for (const box of document.querySelectorAll("[data-fill]")) {
      box.replaceChildren(h("p", { class: "muted" }, t("loading")));
    }
  }

  function showSignin() {
    clearData();
    ui.view.hidden = true;
    ui.sessionInfo.hidden = true;
    ui.signOut.hidden = true;
    ui.signin.hidden = false;
    ui.token.focus();
  }

  function endSession(message) {
    session.clear();
    showSignin();
    if (message) showProblem(message);
  }

  function showSignedIn(current) {
    ui.signin.hidden = true;
    ui.sessionInfo.textContent = t("signed_in_as", {
      client: current.client || "—",
      time: when(current.expiresAt),
    });
    ui.sessionInfo.hidden = false;
    ui.signOut.hidden = false;
    ui.view.hidden = false;
  }

  function wireSignin() {
    ui.tokenForm.addEventListener("submit", (event) => {
      event.preventDefault();
      clearAlert();
      showNotice("");
      const token = ui.token.value.replace(/\s+/g, "").replace(/^Bearer/i, "");
      const claims = JWT.test(token) ? tokenClaims(token) : null;
      if (!claims) {
        ui.token.setAttribute("aria-invalid", "true");
        showProblem(t("invalid_token_format"));
        return;
      }
      if (Number.isFinite(claims.exp) && claims.exp * 1000 <= Date.now()) {
        ui.token.setAttribute("aria-invalid", "true");
        showProblem(t("token_expired"));
        return;
      }
      ui.token.removeAttribute("aria-invalid");
      ui.token.value = "";
      session.save(token, claims);
      run(start);
    });
    ui.signOut.addEventListener("click", () => {
      clearAlert();
      endSession();
      showNotice(t("signed_out"));
    });
  }

  // ---- tree heads ------------------------------------------------------------------------

  function treeHeadTerms(head, result, id) {
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

  function cosignatureList(head, id) {
    const cosignatures = head.cosignatures || [];
    if (!cosignatures.length) return h("p", { class: "muted", id }, t("no_cosignatures"));
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table", id },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, t("witness")),
            h("th", { scope: "col" }, t("cosigned_at")),
          ),
        ),
        h(
          "tbody",
          {},
          cosignatures.map((cosignature) =>
            h(
              "tr",
              { dataset: { witness: cosignature.witness } },
              h("td", {}, h("code", { class: "mono" }, cosignature.witness)),
              h("td", {}, when(cosignature.signed_at)),
            ),
          ),
        ),
      ),
    );
  }

  // ---- the overview ----------------------------------------------------------------------

  async function showOverview() {
    const headBox = byId("tree-head");
    const cosignedBox = byId("cosigned-head");
    const chartBox = byId("chart");
    let current = null;
    const heads = async () => {
      await part(headBox, async () => {
        const [head, jwks] = await Promise.all([audit("/sth"), gatewayJwks()]);
        const result = await V.verifyTreeHead(head, jwks);
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
    const result = await V.verifyTreeHead(head, jwks);
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
      result = await V.verifyConsistency(
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
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table compact" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, t("chart_day")),
              series.map((name) => h("th", { scope: "col", class: "num" }, t("chart_" + name))),
            ),
          ),
          h(
            "tbody",
            {},
            rows.map((row) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, row.day),
                series.map((name) => h("td", { class: "num" }, String(row[name]))),
              ),
            ),
          ),
        ),
      ),
    );
  }

  // ---- the entries browser ---------------------------------------------------------------

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

  function filterLink(name, value, text) {
    if (!value) return "—";
    return h(
      "a",
      { href: consoleHref("/entries", { [name]: value }), class: "mono" },
      text || value,
    );
  }

  function wireEntries() {
    wireFilters(byId("filter-form"), new URLSearchParams(window.location.search));
  }

  async function showEntries() {
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
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table", id: "entries-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              [
                "col_index",
                "col_time",
                "col_type",
                "col_actor",
                "col_lender",
                "col_consent",
                "col_outcome",
              ].map((key) => h("th", { scope: "col" }, t(key))),
            ),
          ),
          h("tbody", {}, found.entries.map(entryRow)),
        ),
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
        h("span", { class: "muted small mono block" }, leaf.type),
      ),
      h("td", { class: "mono small" }, leaf.actor || "—"),
      h("td", {}, filterLink("lender_id", leaf.lender_id)),
      h("td", {}, filterLink("consent_id", leaf.consent_id)),
      h("td", { class: "small" }, outcomeText(leaf)),
    );
  }

  function outcomeText(leaf) {
    return [leaf.outcome, leaf.reason].filter(Boolean).join(" · ") || "—";
  }

  // ---- one entry -------------------------------------------------------------------------

  const LEAF_ORDER = [
    "seq",
    "ts",
    "type",
    "actor",
    "outcome",
    "reason",
    "consent_id",
    "lender_id",
    "borrower_ref",
    "purpose",
    "features",
    "source_fields",
    "payload_digest",
    "request_id",
    "policy_version",
  ];

  function leafValue(name, value) {
    if (value === null || value === undefined) return "—";
    if (Array.isArray(value)) return value.length ? value.join(t("list_separator")) : "—";
    if (name === "ts")
      return h(
        "span",
        {},
        when(value),
        " ",
        h("span", { class: "muted small mono" }, String(value)),
      );
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  async function fetchEntry(index) {
    const found = await audit("/entries", { limit: 1, cursor: index > 0 ? index - 1 : null });
    const entry = found.entries[0];
    return entry && entry.index === index ? entry : null;
  }

  async function showEntry() {
    const box = byId("entry");
    const index = Number(body.dataset.entryIndex);
    const entry = await fetchEntry(index);
    if (!entry) {
      box.replaceChildren(
        h("p", { class: "card muted", id: "entry-missing" }, t("entry_not_found", { index })),
      );
      return;
    }
    const leaf = entry.leaf || {};
    const names = [
      ...LEAF_ORDER.filter((name) => name in leaf),
      ...Object.keys(leaf).filter((name) => !LEAF_ORDER.includes(name)),
    ];
    let canonical = null;
    try {
      canonical = V.canonicalJson(leaf);
    } catch (error) {
      canonical = null;
    }
    const inclusion = h(
      "section",
      { class: "card", "aria-labelledby": "inclusion-heading", id: "inclusion" },
      h("h2", { id: "inclusion-heading" }, t("section_inclusion")),
      h("p", {}, t("inclusion_intro")),
      h("div", { id: "inclusion-result" }, verdict({ state: "pending" }, "inclusion-verdict")),
    );
    box.replaceChildren(
      h(
        "article",
        { class: "card", "aria-labelledby": "entry-heading", dataset: { index: entry.index } },
        h(
          "header",
          { class: "card-head" },
          h("h2", { id: "entry-heading" }, t("entry_heading", { index: entry.index })),
          h("span", { class: "badge" }, eventLabel(leaf.type)),
        ),
        h("h3", {}, t("entry_leaf")),
        terms(
          names.map((name) => [h("code", {}, name), leafValue(name, leaf[name])]),
          "leaf",
        ),
        terms([[t("entry_leaf_hash"), hash(entry.leaf_hash, "leaf-hash")]]),
        canonical === null
          ? null
          : h(
              "details",
              {},
              h("summary", {}, t("canonical_json")),
              h("pre", { class: "code" }, h("code", {}, canonical)),
            ),
        h(
          "p",
          { class: "row small" },
          leaf.consent_id
            ? h(
                "a",
                { href: consoleHref("/entries", { consent_id: leaf.consent_id }) },
                t("entry_consent_link"),
              )
            : null,
          leaf.lender_id
            ? h(
                "a",
                { href: consoleHref("/entries", { lender_id: leaf.lender_id }) },
                t("entry_lender_link"),
              )
            : null,
        ),
      ),
      inclusion,
    );
    await part(byId("inclusion-result"), () => showInclusion(entry, byId("inclusion-result")));
  }

  async function showInclusion(entry, box) {
    const [head, jwks] = await Promise.all([audit("/sth"), gatewayJwks()]);
    const proof = await audit("/proofs/inclusion", {
      index: entry.index,
      tree_size: head.tree_size,
    });
    const headResult = await V.verifyTreeHead(head, jwks);
    const checked = await V.verifyEntry(entry, proof, head, headResult);
    const overall =
      checked.overall.state === "verified"
        ? verdict(
            checked.overall,
            "inclusion-verdict",
            t("inclusion_verified", { index: entry.index, size: head.tree_size }),
          )
        : verdict(checked.overall, "inclusion-verdict");
    const step = (key, result) =>
      h(
        "li",
        { class: "step step-" + result.state, dataset: { step: key, state: result.state } },
        h("span", { class: "verdict-mark", "aria-hidden": "true" }, MARKS[result.state] || "?"),
        " ",
        t("step_" + key),
        result.state === "failed" || result.state === "unavailable"
          ? h("span", { class: "muted small block" }, reasonText(result))
          : null,
      );
    box.replaceChildren(
      overall,
      h(
        "ol",
        { class: "steps" },
        step("leaf", checked.steps.leaf),
        step("proof", checked.steps.proof),
        step("signature", checked.steps.signature),
      ),
      h("h3", {}, t("inclusion_head")),
      treeHeadTerms(head, headResult, "proof-head"),
      h(
        "details",
        {},
        h("summary", {}, t("proof_path", { n: proof.inclusion_path.length })),
        h(
          "ol",
          { class: "hashes", id: "proof-path" },
          proof.inclusion_path.map((node) => h("li", {}, hash(node))),
        ),
      ),
    );
  }

  // ---- the compliance report -------------------------------------------------------------

  const DAY = /^\d{4}-\d{2}-\d{2}$/;

  function wireCompliance() {
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

  async function showCompliance() {
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
    const headResult = await V.verifyTreeHead(report.tree_head, jwks);
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
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table", id: "findings" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            [
              "col_severity",
              "col_kind",
              "col_detail",
              "col_lender",
              "col_consent",
              "col_leaves",
            ].map((key) => h("th", { scope: "col" }, t(key))),
          ),
        ),
        h(
          "tbody",
          {},
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
                has("kind_" + finding.kind) ? t("kind_" + finding.kind) : finding.kind,
                h("span", { class: "muted small mono block" }, finding.kind),
              ),
              h("td", { class: "small" }, finding.detail),
              h("td", {}, filterLink("lender_id", finding.lender_id)),
              h("td", {}, filterLink("consent_id", finding.consent_id)),
              h("td", {}, leafLinks(finding.leaf_indexes || [])),
            ),
          ),
        ),
      ),
    );
  }

  function releasesTable(releases) {
    if (!releases.length) return h("p", { class: "muted" }, t("no_releases"));
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table", id: "release-checks" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["col_index", "col_time", "col_lender", "col_consent", "col_status", "col_checks"].map(
              (key) => h("th", { scope: "col" }, t(key)),
            ),
          ),
        ),
        h(
          "tbody",
          {},
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
        ),
      ),
    );
  }

  // ---- start -----------------------------------------------------------------------------

  // Each page: what it loads once signed in, and its forms, wired once.
  const PAGES = {
    overview: { load: showOverview },
    entries: { load: showEntries, wire: wireEntries },
    entry: { load: showEntry },
    compliance: { load: showCompliance, wire: wireCompliance },
  };

  async function start() {
    const current = session.load();
    if (!current) {
      showSignin();
      return;
    }
    showSignedIn(current);
    await PAGES[page].load();
  }

  // A "not found" page has nothing to load.
  if (Object.prototype.hasOwnProperty.call(PAGES, page)) {
    wireSignin();
    if (PAGES[page].wire) PAGES[page].wire();
    run(start);
  }
})();
