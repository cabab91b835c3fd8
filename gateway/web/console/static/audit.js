/* The regulator's access token, and the console's calls with it: the audit API and the
 * gateway's public keys. */
import { ApiError, fetchJson, SessionEnded, storedSession, t } from "./shared.js";

// The chart and the co-signed head are counted from pages of the log; each read is itself
// an audit event, so pages are as large as the API allows, and their number is capped.
export const SCAN_PAGE = 500;
export const SCAN_MAX_PAGES = 200;

// ---- the access token ------------------------------------------------------------------

export const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// One part of a compact JWS as the JSON object it encodes, or null.
export function jwsPart(token, position) {
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
export function tokenClaims(token) {
  return jwsPart(token, 1);
}

// Why sessionStorage: the token is a bearer credential good for a few minutes of audit
// reads. sessionStorage keeps it to this tab — other tabs and windows never see it, and it
// is gone when the tab closes (localStorage would keep it on disk) — and, unlike a cookie,
// the browser never attaches it to a request by itself, so no other site can make this
// browser spend it (no CSRF). Script on this origin could read it: hence no inline or
// foreign script (CSP), text-only rendering, and the token's short lifetime.
export const session = storedSession(
  "lendgate.regulator.token",
  (saved) => saved.token && saved.expiresAt > Date.now(),
);

export function saveToken(token, claims) {
  const expiresAt = Number.isFinite(claims.exp) ? claims.exp * 1000 : Date.now() + 5 * 60 * 1000;
  const client = typeof claims.sub === "string" ? claims.sub : "";
  session.save({ token, client, expiresAt });
}

// ---- API -------------------------------------------------------------------------------

// `params` as a query string ("" when none is set); empty values are left out.
export function queryString(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? "?" + text : "";
}

function api(path, params, token) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  return fetchJson(path + queryString(params), { headers, credentials: "omit" });
}

export async function audit(path, params) {
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

export function gatewayJwks() {
  jwksPromise = jwksPromise || api("/.well-known/jwks.json");
  return jwksPromise;
}

// Every entry matching `params`, a page at a time, handed to `each`; true if all were read.
export async function scan(params, each) {
  let cursor = null;
  for (let pages = 0; pages < SCAN_MAX_PAGES; pages += 1) {
    const found = await audit("/entries", { ...params, limit: SCAN_PAGE, cursor });
    found.entries.forEach(each);
    cursor = found.next_cursor;
    if (!cursor) return true;
  }
  return false;
}
