/* Lendgate regulator console.
 *
 * Talks only to the gateway's audit JSON API (/v1/audit/...) with the regulator's access
 * token, and to /.well-known/jwks.json for the gateway's public keys. What it can check by
 * itself it checks here, with WebCrypto (verify.js): tree-head signatures, leaf hashes,
 * inclusion and consistency proofs. How values reach the page (as text only) is in
 * shared.js; each page's view is a module of its own.
 */
import {
  SessionEnded,
  accepted,
  byId,
  clearAlert,
  errorText,
  h,
  showNotice,
  showProblem,
  t,
} from "./shared.js";
import { JWT, saveToken, session, tokenClaims } from "./audit.js";
import { showCompliance, wireCompliance } from "./compliance.js";
import { showEntries, wireEntries } from "./entries.js";
import { showEntry } from "./entry.js";
import { showOverview } from "./overview.js";
import { when } from "./parts.js";

const page = document.body.dataset.page;
const ui = {
  signin: byId("signin"),
  tokenForm: byId("token-form"),
  token: byId("token"),
  sessionInfo: byId("session-info"),
  signOut: byId("sign-out"),
  view: byId("view"),
};

// Runs a page's work: shows any refusal in plain words; a refused token asks for a new one.
async function run(action) {
  ui.view.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    if (error instanceof SessionEnded) endSession(error.message);
    else showProblem(errorText(error));
  } finally {
    ui.view.setAttribute("aria-busy", "false");
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
  // The client id is an identifier shown for copying, set apart as code.
  const [before, after] = t("signed_in_as", { client: "\u0000", time: when(current.expiresAt) })
    .split("\u0000");
  ui.sessionInfo.replaceChildren(before, h("code", {}, current.client || "—"), after || "");
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
    if (!accepted(ui.token, claims !== null, t("invalid_token_format"))) return;
    const expired = Number.isFinite(claims.exp) && claims.exp * 1000 <= Date.now();
    if (!accepted(ui.token, !expired, t("token_expired"))) return;
    ui.token.value = "";
    saveToken(token, claims);
    run(start);
  });
  ui.signOut.addEventListener("click", () => {
    clearAlert();
    endSession();
    showNotice(t("signed_out"));
  });
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
