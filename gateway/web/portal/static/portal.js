/* Lendgate borrower portal.
 *
 * Talks only to the gateway's borrower JSON API (/v1/borrower/...); how values reach the
 * page (as text only) is in shared.js.
 */
import {
  ApiError,
  accepted,
  SessionEnded,
  beijingTimes,
  byId,
  clearAlert,
  errorText,
  fetchJson,
  h,
  lang,
  showNotice,
  showProblem,
  storedSession,
  t,
} from "./shared.js";

const page = document.body.dataset.page;
const consentId = document.body.dataset.consentId || "";
const langQuery = lang === "en" ? "?lang=en" : "";
const PHONE = /^1[3-9]\d{9}$/;
const CODE = /^\d{6}$/;

const ui = {
  login: byId("login"),
  phoneForm: byId("phone-form"),
  phone: byId("phone"),
  codeForm: byId("code-form"),
  codeSent: byId("code-sent"),
  loginCode: byId("login-code"),
  changePhone: byId("change-phone"),
  resendLogin: byId("resend-login-code"),
  sessionInfo: byId("session-info"),
  logout: byId("logout"),
  view: byId("view"),
};

// ---- text ------------------------------------------------------------------------------

const when = beijingTimes({});

function maskPhone(phone) {
  return phone.slice(0, 3) + "****" + phone.slice(-4);
}

// Sources in the order borrowers know them: 社保, 公积金, 征信, then any other.
const SOURCE_ORDER = ["social_insurance", "housing_fund", "credit_bureau"];

function bySourceOrder(a, b) {
  const rank = (source) => (SOURCE_ORDER.includes(source) ? SOURCE_ORDER.indexOf(source) : 99);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

// A source by the title the gateway gives it; never by its name.
function sourceLabel(notice, source) {
  return localized((notice.source_titles || {})[source]) || t("source_unnamed");
}

function localized(texts) {
  if (!texts) return "";
  return texts[lang] || texts.zh || texts.en || "";
}

// Offers `data` as a JSON file named `name`: what the borrower keeps, on their device.
function download(name, data) {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const BAND = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/;
const BAND_ABOVE = /^(\d+(?:\.\d+)?)\+$/;
const BAND_BELOW = /^<(\d+(?:\.\d+)?)$/;

function amount(text) {
  return Number(text).toLocaleString(lang === "en" ? "en-US" : "zh-CN");
}

// A released value in the words the catalog gives it: yes/no and codes by their labels,
// counts and bands with their unit, ratios as a percentage.
function valueText(feature, value) {
  const output = (feature && feature.output) || {};
  const labels = output.value_labels || {};
  const unit = localized(output.unit);
  if (value === null || value === undefined) return t("value_null");
  const key = String(value);
  if (labels[key]) return localized(labels[key]);
  if (typeof value === "boolean") return t(value ? "value_yes" : "value_no");
  if (output.type === "ratio" && typeof value === "number") {
    return t("value_percent", { n: Math.round(value * 100) });
  }
  if (output.type === "band") {
    let found = key.match(BAND);
    if (found) return t("band_between", { lo: amount(found[1]), hi: amount(found[2]), unit });
    found = key.match(BAND_ABOVE);
    if (found) return t("band_above", { lo: amount(found[1]), unit });
    found = key.match(BAND_BELOW);
    if (found) return t("band_below", { hi: amount(found[1]), unit });
  }
  if (typeof value === "number") return t("value_count", { n: amount(value), unit });
  return t("value_unreadable");
}

// ---- session ---------------------------------------------------------------------------

// The session itself is an HttpOnly cookie this script never sees. The gateway also sets
// a readable CSRF cookie, echoed in X-CSRF-Token on every change. sessionStorage keeps
// only the phone (to show it masked and to ask for approval codes) and the expiry.
const CSRF_COOKIE = /(?:^|;\s*)(?:__Host-)?lendgate_csrf=([^;]+)/;

function csrfToken() {
  const found = document.cookie.match(CSRF_COOKIE);
  return found ? decodeURIComponent(found[1]) : "";
}

const session = storedSession(
  "lendgate.portal.session",
  (saved) => saved.phone && saved.expiresAt > Date.now() && csrfToken(),
);

function saveSession(phone, expiresIn) {
  // Ten seconds early, so a request never leaves with a session about to die.
  const expiresAt = Date.now() + Math.max(0, Number(expiresIn) - 10) * 1000;
  session.save({ phone, expiresAt });
}

// ---- API -------------------------------------------------------------------------------

async function api(method, path, payload) {
  const headers = {};
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken()) headers["X-CSRF-Token"] = csrfToken();
  return fetchJson(path, {
    method,
    headers,
    body: payload === undefined ? undefined : JSON.stringify(payload),
    credentials: "same-origin",
  });
}

// A call on the borrower's session (the cookie). `checksCode`: an InvalidToken answer is
// about the one-time code in the body (the session's expiry is checked here first).
async function authed(method, path, payload, checksCode) {
  const current = session.load();
  if (!current) throw new SessionEnded();
  try {
    return await api(method, path, payload);
  } catch (error) {
    if (error instanceof ApiError && error.code === "InvalidToken" && !checksCode) {
      throw new SessionEnded();
    }
    throw error;
  }
}

function consentPath(id, action) {
  return "/v1/borrower/consents/" + encodeURIComponent(id) + (action ? "/" + action : "");
}

// Runs a user action: disables its controls, shows any refusal in plain words.
async function run(controls, action) {
  clearAlert();
  showNotice("");
  const disabled = controls.filter((control) => control && !control.disabled);
  disabled.forEach((control) => {
    control.disabled = true;
  });
  ui.view.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    if (error instanceof SessionEnded) endSession(t("session_expired"));
    else showProblem(errorText(error));
  } finally {
    disabled.forEach((control) => {
      if (!control.dataset.waitUntil) control.disabled = false;
    });
    ui.view.setAttribute("aria-busy", "false");
    revealMessage();
  }
}

// After an action, its answer is where the eyes are: the page scrolls to the message.
function revealMessage() {
  const alert = byId("alert");
  const notice = byId("notice");
  const shown = !alert.hidden ? alert : notice.textContent ? notice : null;
  if (shown) shown.scrollIntoView({ block: "start" });
}

const RESEND_SECONDS = 60;

// A "send a new code" button that waits a minute after each code, counting down.
function countdown(button) {
  const until = Date.now() + RESEND_SECONDS * 1000;
  button.dataset.waitUntil = String(until);
  button.disabled = true;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0 || !button.isConnected) {
      delete button.dataset.waitUntil;
      button.disabled = false;
      button.textContent = t("resend_code");
      return;
    }
    button.textContent = t("resend_in", { n: left });
    setTimeout(tick, 1000);
  };
  tick();
}

// ---- login -----------------------------------------------------------------------------

let pendingPhone = "";

function showLogin() {
  ui.view.replaceChildren();
  ui.sessionInfo.hidden = true;
  ui.logout.hidden = true;
  ui.codeForm.hidden = true;
  ui.phoneForm.hidden = false;
  ui.login.hidden = false;
  ui.phone.focus();
}

function endSession(message) {
  session.clear();
  showLogin();
  if (message) showProblem(message);
}

function showSignedIn(current) {
  ui.login.hidden = true;
  ui.sessionInfo.textContent = t("signed_in_as", { phone: maskPhone(current.phone) });
  ui.sessionInfo.hidden = false;
  ui.logout.hidden = false;
}

function wireLogin() {
  ui.phoneForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const phone = ui.phone.value.replace(/\s+/g, "");
    if (!accepted(ui.phone, PHONE.test(phone), t("invalid_phone"))) return;
    run(Array.from(ui.phoneForm.elements), async () => {
      const sent = await api("POST", "/v1/borrower/otp", { phone });
      pendingPhone = phone;
      ui.codeSent.textContent = t("code_sent", {
        phone: maskPhone(phone),
        minutes: Math.max(1, Math.round(sent.expires_in / 60)),
      });
      ui.phoneForm.hidden = true;
      ui.codeForm.hidden = false;
      ui.loginCode.value = "";
      ui.loginCode.focus();
      countdown(ui.resendLogin);
    });
  });

  ui.resendLogin.addEventListener("click", () =>
    run([ui.resendLogin], async () => {
      await api("POST", "/v1/borrower/otp", { phone: pendingPhone });
      ui.loginCode.value = "";
      ui.loginCode.focus();
      countdown(ui.resendLogin);
    }),
  );

  ui.codeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = ui.loginCode.value.trim();
    if (!accepted(ui.loginCode, CODE.test(code), t("invalid_code"))) return;
    run(Array.from(ui.codeForm.elements), async () => {
      const opened = await api("POST", "/v1/borrower/session", {
        phone: pendingPhone,
        code,
        delivery: "cookie",
      });
      saveSession(pendingPhone, opened.expires_in);
      ui.loginCode.value = "";
      await start();
    });
  });

  ui.changePhone.addEventListener("click", () => {
    clearAlert();
    ui.codeForm.hidden = true;
    ui.phoneForm.hidden = false;
    ui.phone.focus();
  });

  ui.logout.addEventListener("click", () =>
    run([ui.logout], async () => {
      // Ended at the gateway too, so the cookie is worthless even if it were kept.
      try {
        await authed("POST", "/v1/borrower/logout");
      } catch (error) {
        if (!(error instanceof SessionEnded)) throw error;
      }
      showNotice(t("logged_out"));
      endSession();
    }),
  );
}

// ---- one consent -----------------------------------------------------------------------

function section(id, title, ...content) {
  const headingId = "section-" + id;
  return h(
    "section",
    { class: "section", "aria-labelledby": headingId },
    h("h3", { id: headingId }, title),
    ...content,
  );
}

function statusBadge(status, id) {
  return h(
    "span",
    { id, class: "badge badge-" + String(status).toLowerCase(), dataset: { status } },
    t("status_" + status),
  );
}

function usageText(terms) {
  if (terms.fetch_type === "ONETIME") return t("usage_onetime");
  return t("usage_periodic", {
    n: terms.frequency.value,
    unit: t("unit_" + terms.frequency.unit),
  });
}

function termsList(consent) {
  const terms = consent.terms;
  const rows = [
    [
      t("term_validity"),
      t("validity_value", { from: when(terms.valid_from), until: when(terms.valid_until) }),
    ],
    [t("term_usage"), usageText(terms)],
    [t("term_range"), t("range_value", { n: terms.data_range_months })],
    [t("term_life"), t("life_value", { n: terms.data_life_days })],
    [t("term_requested"), when(consent.created_at)],
  ];
  if (consent.decided_at) rows.push([t("term_decided"), when(consent.decided_at)]);
  if (consent.ended_at) rows.push([t("term_ended"), when(consent.ended_at)]);
  if (consent.data_deleted_at) rows.push([t("term_deleted"), when(consent.data_deleted_at)]);
  return h(
    "dl",
    { class: "terms" },
    rows.map(([label, value]) =>
      h("div", { class: "term" }, h("dt", {}, label), h("dd", {}, value)),
    ),
  );
}

function featureList(notice) {
  return h(
    "ul",
    { class: "features" },
    notice.features.map((feature) =>
      h(
        "li",
        { dataset: { feature: feature.name } },
        h("p", { class: "feature-label" }, h("strong", {}, localized(feature.label))),
        h("p", {}, localized(feature.explanation)),
        h(
          "p",
          { class: "muted small" },
          t("feature_sources", {
            sources: [...(feature.sources || [])]
              .sort(bySourceOrder)
              .map((source) => sourceLabel(notice, source))
              .join(t("list_separator")),
          }),
        ),
      ),
    ),
  );
}

// What the lender may still hold of what it received: each access it has not yet said it
// deleted, until the date it must delete it by.
function lenderHolds(consent) {
  const now = Date.now();
  const held = consent.accesses.filter(
    (access) => !access.deletion_attested_at && Date.parse(access.delete_by) > now,
  );
  if (!consent.accesses.length) return h("p", { id: "lender-holds" }, t("holds_nothing"));
  if (!held.length) return h("p", { id: "lender-holds" }, t("holds_none_left"));
  const last = held.map((access) => access.delete_by).sort().at(-1);
  return h(
    "p",
    { id: "lender-holds" },
    t("holds_results", { n: held.length, date: when(last) }),
  );
}

// One access: when and `head`, what the lender must do with what it received, then `details`.
function accessItem(access, head, ...details) {
  const deletion = access.deletion_attested_at
    ? t("access_deleted_at", { date: when(access.deletion_attested_at) })
    : t("access_delete_by", { date: when(access.delete_by) });
  return h(
    "li",
    { class: "access", dataset: { releaseId: access.release_id } },
    h(
      "p",
      { class: "access-head" },
      h("time", { datetime: access.released_at }, when(access.released_at)),
      " · ",
      head,
    ),
    h("p", { class: "muted small" }, deletion),
    ...details,
  );
}

function accessList(consent) {
  if (!consent.accesses.length) return h("p", { class: "muted" }, t("no_accesses"));
  // Released values listed in the order the notice lists the features.
  const features = new Map(consent.notice.features.map((feature) => [feature.name, feature]));
  const order = consent.notice.features.map((feature) => feature.name);
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  const inNoticeOrder = (values) => Object.entries(values).sort(([a], [b]) => rank(a) - rank(b));
  return h(
    "ol",
    { class: "accesses" },
    consent.accesses.map((access) => {
      let shared;
      if (access.values) {
        shared = h(
          "details",
          {},
          h("summary", {}, t("access_values")),
          h(
            "dl",
            { class: "values" },
            inNoticeOrder(access.values).map(([name, value]) =>
              h(
                "div",
                {},
                h("dt", {}, localized((features.get(name) || {}).label) || t("feature_unnamed")),
                h("dd", {}, valueText(features.get(name), value)),
              ),
            ),
          ),
        );
      } else {
        shared = h("p", { class: "muted small" }, t("access_values_gone"));
      }
      return accessItem(access, t("access_summary", { n: access.features.length }), shared);
    }),
  );
}

// Who the lender says the borrower is, masked as the gateway keeps it for display, so
// that someone who is not this person can say so.
function identityLine(consent) {
  const shown = consent.borrower_display || {};
  if (!shown.name && !shown.id_number) return null;
  return h(
    "p",
    { class: "identity small", id: "identity-given" },
    t("identity_given", { name: shown.name || "—", id: shown.id_number || "—" }),
    " ",
    h("span", { class: "muted" }, t(consent.status === "PENDING" ? "not_me_pending" : "not_me")),
  );
}

const RECEIPT_KINDS = { consent: "receipt_consent", withdrawal: "receipt_withdrawal" };

// The signed receipts of a consent: when each was issued, and the file to keep.
function receiptsBox(consent) {
  const box = h("div", { id: "receipts" }, h("p", { class: "muted small" }, t("loading")));
  authed("GET", consentPath(consent.consent_id, "receipt"))
    .then((found) => {
      const receipts = [found.consent_receipt, found.withdrawal_receipt].filter(Boolean);
      box.replaceChildren(
        h("p", { class: "muted small" }, t("receipts_intro")),
        h(
          "ul",
          { class: "receipts" },
          receipts.map((receipt) =>
            h(
              "li",
              { class: "receipt", dataset: { kind: receipt.kind } },
              h("p", {}, h("strong", {}, t(RECEIPT_KINDS[receipt.kind] || "receipt_other"))),
              h("p", { class: "small" }, t("receipt_issued", { date: when(receipt.issued_at) })),
              h(
                "button",
                {
                  type: "button",
                  class: "button secondary",
                  dataset: { download: "receipt-" + receipt.kind },
                  onclick: () =>
                    download(`lendgate-${receipt.kind}-receipt-${consent.consent_id}.json`, receipt),
                },
                t("receipt_download"),
              ),
            ),
          ),
        ),
      );
    })
    .catch((error) => {
      if (error instanceof SessionEnded) endSession(t("session_expired"));
      else box.replaceChildren(h("p", { class: "alert" }, errorText(error)));
    });
  return box;
}

// The authorization letter, to read before agreeing and to keep after: a page and a PDF.
// A credit-report query leaves a record on the borrower's credit report; they read it here.
function letterBox(consent) {
  const letter = consentPath(consent.consent_id, "authorization");
  const query = (format) => "?" + new URLSearchParams({ format, lang }).toString();
  const readsCredit = (consent.notice.sources || []).includes("credit_bureau");
  return h(
    "div",
    { id: "letter" },
    readsCredit ? h("p", { class: "credit-note", id: "credit-note" }, t("credit_query_note")) : null,
    h(
      "p",
      { class: "muted small" },
      t(consent.status === "PENDING" ? "letter_intro_pending" : "letter_intro"),
    ),
    h(
      "p",
      { class: "row" },
      h(
        "a",
        { class: "button secondary", href: letter + query("html"), id: "letter-page" },
        t("letter_read"),
      ),
      h(
        "a",
        { class: "button secondary", href: letter + query("pdf"), id: "letter-pdf", download: "" },
        t("letter_pdf"),
      ),
    ),
  );
}

// Deleting what Lendgate keeps for this consent: a consent in force ends first.
function deletionBox(consent) {
  const box = h("div", { id: "delete-data" });
  const inForce = ["ACTIVE", "PAUSED"].includes(consent.status);
  const ask = h(
    "button",
    { type: "button", class: "button danger", dataset: { action: "delete-data" } },
    t("delete_button"),
  );
  ask.addEventListener("click", () => {
    const confirm = h(
      "button",
      { type: "button", class: "button danger", dataset: { action: "confirm-delete-data" } },
      t("delete_confirm_button"),
    );
    const cancel = h("button", { type: "button", class: "button secondary" }, t("cancel"));
    confirm.addEventListener("click", () =>
      run([confirm, cancel], async () => {
        await authed("POST", consentPath(consent.consent_id, "delete-data"));
        showNotice(t("done_delete"));
        await showConsent();
      }),
    );
    cancel.addEventListener("click", () => box.replaceChildren(intro, ask));
    box.replaceChildren(
      h(
        "div",
        { class: "confirm", role: "group", "aria-label": t("section_delete") },
        h("p", {}, t(inForce ? "delete_confirm_in_force" : "delete_confirm")),
        h("div", { class: "row" }, confirm, cancel),
      ),
    );
    confirm.focus();
  });
  const intro = h("p", { class: "muted small" }, t("delete_intro"));
  box.replaceChildren(intro, ask);
  return box;
}

function actionButton(action, style, onClick) {
  return h(
    "button",
    { type: "button", class: "button " + style, dataset: { action }, onclick: onClick },
    t("action_" + action),
  );
}

function actionsFor(consent) {
  const actions = h("div", { class: "actions", id: "actions" });
  const decide = (action) => (event) =>
    run([event.currentTarget], async () => {
      await authed("POST", consentPath(consent.consent_id, action));
      showNotice(t("done_" + action));
      await showConsent();
    });
  const confirmFirst = (action) => () => {
    clearAlert();
    actions.replaceChildren(confirmPanel(consent, action, actions));
    actions.querySelector("[data-action='confirm-" + action + "']").focus();
  };
  const buttons = {
    PENDING: [
      actionButton("approve", "primary", (event) =>
        run([event.currentTarget], () => startApproval(consent, actions)),
      ),
      actionButton("reject", "danger", confirmFirst("reject")),
    ],
    ACTIVE: [
      actionButton("pause", "secondary", decide("pause")),
      actionButton("revoke", "danger", confirmFirst("revoke")),
    ],
    PAUSED: [
      actionButton("resume", "primary", decide("resume")),
      actionButton("revoke", "danger", confirmFirst("revoke")),
    ],
  }[consent.status];
  if (!buttons) return null;
  actions.replaceChildren(...buttons);
  return actions;
}

function restoreActions(consent, actions) {
  const fresh = actionsFor(consent);
  actions.replaceChildren(...(fresh ? fresh.childNodes : []));
}

function confirmPanel(consent, action, actions) {
  const confirm = h(
    "button",
    { type: "button", class: "button danger", dataset: { action: "confirm-" + action } },
    t("confirm_" + action + "_button"),
  );
  const cancel = h("button", { type: "button", class: "button secondary" }, t("cancel"));
  confirm.addEventListener("click", () =>
    run([confirm, cancel], async () => {
      await authed("POST", consentPath(consent.consent_id, action));
      showNotice(t("done_" + action));
      await showConsent();
    }),
  );
  cancel.addEventListener("click", () => restoreActions(consent, actions));
  return h(
    "div",
    { class: "confirm", role: "group", "aria-label": t("action_" + action) },
    h("p", {}, t("confirm_" + action)),
    h("div", { class: "row" }, confirm, cancel),
  );
}

async function sendApprovalCode(consent) {
  const current = session.load();
  if (!current) throw new SessionEnded();
  await authed("POST", "/v1/borrower/otp", {
    phone: current.phone,
    purpose: "approve",
    consent_id: consent.consent_id,
  });
  return current.phone;
}

async function startApproval(consent, actions) {
  const phone = await sendApprovalCode(consent);
  const input = h("input", {
    id: "approve-code",
    name: "code",
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: "6",
    pattern: "[0-9]{6}",
    required: true,
  });
  const submit = h(
    "button",
    { type: "submit", class: "button primary", dataset: { action: "confirm-approve" } },
    t("approve_confirm"),
  );
  const resend = h("button", { type: "button", class: "link-button" }, t("resend_code"));
  const cancel = h("button", { type: "button", class: "link-button" }, t("cancel"));
  const sentText = h(
    "p",
    { class: "muted", id: "approve-code-sent" },
    t("approve_code_sent", { phone: maskPhone(phone) }),
  );
  const form = h(
    "form",
    { class: "stack confirm", novalidate: true },
    sentText,
    h("label", { for: "approve-code" }, t("code_label")),
    input,
    h("div", { class: "row" }, submit, resend, cancel),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (!accepted(input, CODE.test(code), t("invalid_code"))) return;
    run([submit, resend, cancel], async () => {
      await authed("POST", consentPath(consent.consent_id, "approve"), { code }, true);
      showNotice(t("done_approve"));
      await showConsent();
    });
  });
  resend.addEventListener("click", () =>
    run([submit, resend, cancel], async () => {
      await sendApprovalCode(consent);
      input.value = "";
      input.focus();
      countdown(resend);
    }),
  );
  cancel.addEventListener("click", () => {
    clearAlert();
    restoreActions(consent, actions);
  });
  actions.replaceChildren(form);
  countdown(resend);
  input.focus();
}

function renderConsent(consent) {
  const notice = consent.notice;
  const who = h(
    "div",
    { class: "who" },
    h(
      "p",
      { class: "lender" },
      h("strong", { id: "lender-name" }, consent.lender.name),
      " ",
      t("requested_by"),
    ),
    consent.on_behalf_of
      ? h(
          "p",
          { class: "muted", id: "on-behalf-of" },
          t("on_behalf_of", { name: consent.on_behalf_of }),
        )
      : null,
    identityLine(consent),
  );
  // A request is decided after reading it; a consent given can be withdrawn from the top.
  const pending = consent.status === "PENDING";
  const ended = ["REVOKED", "EXPIRED"].includes(consent.status);
  const actions = actionsFor(consent);
  return h(
    "article",
    {
      class: "card consent",
      "aria-labelledby": "consent-title",
      dataset: { consentId: consent.consent_id },
    },
    h(
      "header",
      { class: "consent-head" },
      h("h2", { id: "consent-title" }, localized(notice.title)),
      statusBadge(consent.status, "consent-status"),
    ),
    who,
    h("p", { class: "status-hint", id: "status-hint" }, t("status_hint_" + consent.status)),
    pending ? null : actions,
    section(
      "summary",
      t("section_summary"),
      h("p", { class: "notice-summary", id: "notice-summary" }, localized(notice.summary)),
    ),
    section("why", t("section_why"), h("p", { class: "notice-text" }, localized(notice.why))),
    section("features", t("section_features"), featureList(notice)),
    section(
      "sources",
      t("section_sources"),
      h(
        "ul",
        { class: "chips" },
        [...notice.sources]
          .sort(bySourceOrder)
          .map((source) => h("li", { dataset: { source } }, sourceLabel(notice, source))),
      ),
    ),
    section(
      "terms",
      t("section_terms"),
      termsList(consent),
      h("p", { class: "muted small" }, t("times_note")),
    ),
    consent.status === "REJECTED"
      ? null
      : section("letter", t("section_letter"), letterBox(consent)),
    pending
      ? h(
          "div",
          {
            class: "decide-bar",
            id: "decide-bar",
            role: "region",
            "aria-label": t("section_decide"),
          },
          actions,
        )
      : null,
    ended ? section("holds", t("section_holds"), lenderHolds(consent)) : null,
    section("accesses", t("section_accesses"), accessList(consent)),
    consent.decided_at && consent.status !== "REJECTED"
      ? section("receipts", t("section_receipts"), receiptsBox(consent))
      : null,
    pending || consent.data_deleted_at
      ? null
      : section("delete", t("section_delete"), deletionBox(consent)),
  );
}

async function showConsent() {
  const consent = await authed("GET", consentPath(consentId));
  ui.view.replaceChildren(backLink(), renderConsent(consent));
}

// ---- the list --------------------------------------------------------------------------

function dataLink() {
  return h(
    "p",
    { class: "back" },
    h("a", { href: "/portal/data" + langQuery, id: "data-link" }, t("to_my_data")),
  );
}

async function showList() {
  const listed = await authed("GET", "/v1/borrower/consents");
  if (!listed.consents.length) {
    ui.view.replaceChildren(h("p", { class: "card muted" }, t("list_empty")), dataLink());
    return;
  }
  ui.view.replaceChildren(
    dataLink(),
    h(
      "ul",
      { class: "consent-list" },
      listed.consents.map((consent) =>
        h(
          "li",
          {},
          h(
            "a",
            {
              class: "card consent-link",
              href: "/portal/consents/" + encodeURIComponent(consent.consent_id) + langQuery,
              dataset: { consentId: consent.consent_id },
            },
            h(
              "span",
              { class: "consent-head" },
              h("span", { class: "consent-link-title" }, localized(consent.notice.title)),
              statusBadge(consent.status),
            ),
            h("span", { class: "lender" }, consent.lender.name),
            h(
              "span",
              { class: "muted small" },
              t("list_requested_at", { date: when(consent.created_at) }),
            ),
          ),
        ),
      ),
    ),
  );
}

// ---- my data: every access, and the complete copy -------------------------------------

async function showData() {
  const [log, listed] = await Promise.all([
    authed("GET", "/v1/borrower/access-log?limit=200"),
    authed("GET", "/v1/borrower/consents"),
  ]);
  const consents = new Map(listed.consents.map((consent) => [consent.consent_id, consent]));
  const exportButton = h(
    "button",
    { type: "button", class: "button primary", dataset: { download: "export" } },
    t("export_button"),
  );
  exportButton.addEventListener("click", () =>
    run([exportButton], async () => {
      download("lendgate-export.json", await authed("GET", "/v1/borrower/export"));
      showNotice(t("export_done"));
    }),
  );
  const rows = log.accesses.map((access) => {
    const consent = consents.get(access.consent_id);
    const notice = consent ? consent.notice : { features: [], source_titles: {} };
    const labels = access.features.map(
      (name) =>
        localized((notice.features.find((feature) => feature.name === name) || {}).label) ||
        t("feature_unnamed"),
    );
    return accessItem(
      access,
      h("strong", {}, access.lender.name),
      h("p", { class: "small" }, localized(access.purpose.title)),
      h("p", { class: "small" }, labels.join(t("list_separator"))),
      h(
        "p",
        { class: "muted small" },
        t("feature_sources", {
          sources: [...access.sources]
            .sort(bySourceOrder)
            .map((source) => sourceLabel(notice, source))
            .join(t("list_separator")),
        }),
      ),
      h(
        "p",
        { class: "small" },
        h(
          "a",
          { href: "/portal/consents/" + encodeURIComponent(access.consent_id) + langQuery },
          t("to_consent"),
        ),
      ),
    );
  });
  ui.view.replaceChildren(
    backLink(),
    h(
      "section",
      { class: "card", "aria-labelledby": "section-export" },
      h("h2", { id: "section-export" }, t("section_export")),
      h("p", { class: "muted small" }, t("export_intro")),
      exportButton,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "section-all-accesses" },
      h("h2", { id: "section-all-accesses" }, t("section_all_accesses")),
      rows.length
        ? h("ol", { class: "accesses", id: "all-accesses" }, rows)
        : h("p", { class: "muted", id: "all-accesses" }, t("no_accesses_anywhere")),
    ),
  );
}

// ---- start -----------------------------------------------------------------------------

function backLink() {
  return h("p", { class: "back" }, h("a", { href: "/portal/" + langQuery }, t("back_to_list")));
}

async function start() {
  const current = session.load();
  if (!current) {
    showLogin();
    return;
  }
  showSignedIn(current);
  ui.view.replaceChildren(h("p", { class: "muted" }, t("loading")));
  try {
    const show = { consent: showConsent, data: showData }[page] || showList;
    await show();
  } catch (error) {
    // A page that cannot be shown still leaves the way back to the list.
    if (error instanceof ApiError) ui.view.replaceChildren(page === "consent" ? backLink() : "");
    throw error;
  }
}

// Only the consent pages have a login form and a view; a "not found" page has nothing to do.
if (page === "consent" || page === "consents" || page === "data") {
  wireLogin();
  run([], start);
}
