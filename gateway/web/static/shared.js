/* What the borrower portal and the regulator console share: their texts, times, DOM
 * building, alerts, JSON calls and the session a tab keeps in sessionStorage.
 *
 * Every value that comes from the API is put on the page as text (textContent / text
 * nodes), never as markup, and no handler lives in an HTML attribute, so a strict CSP fits.
 */

export const byId = (id) => document.getElementById(id);

// The page's texts in its language, handed over by the server as JSON.
const messages = JSON.parse(byId("messages").textContent);

export const lang = document.documentElement.lang === "en" ? "en" : "zh";

// ---- text --------------------------------------------------------------------------------

export function has(key) {
  return Object.prototype.hasOwnProperty.call(messages, key);
}

export function t(key, vars) {
  let text = has(key) ? messages[key] : key;
  for (const [name, value] of Object.entries(vars || {})) {
    text = text.split("{" + name + "}").join(String(value));
  }
  return text;
}

// A function writing a time in Beijing time, in the page's language; `fields` adds to the
// date, hour and minute (the console shows seconds too).
export function beijingTimes(fields) {
  const format = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    ...fields,
    hourCycle: "h23",
  });
  return (value) => {
    if (value === null || value === undefined || value === "") return "—";
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : format.format(date);
  };
}

// ---- DOM ---------------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

// Builds an element; children that are not nodes become text nodes, so data stays text.
export function h(tag, props, ...children) {
  return fill(document.createElement(tag), props, children);
}

// The same for SVG elements (the console's chart).
export function s(tag, props, ...children) {
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

// ---- alerts ------------------------------------------------------------------------------

export function showProblem(text) {
  const alert = byId("alert");
  alert.textContent = text;
  alert.hidden = false;
}

export function clearAlert() {
  const alert = byId("alert");
  alert.hidden = true;
  alert.textContent = "";
}

export function showNotice(text) {
  byId("notice").textContent = text;
}

// Whether an input's value is `acceptable`; if not, the input is marked and `problem` shown.
export function accepted(input, acceptable, problem) {
  if (!acceptable) {
    input.setAttribute("aria-invalid", "true");
    showProblem(problem);
    return false;
  }
  input.removeAttribute("aria-invalid");
  return true;
}

// A refusal in plain words; anything else is a fault of the page, logged for a developer.
export function errorText(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    return t("error_unknown");
  }
  const key = "error_" + error.code;
  return has(key) ? t(key, { detail: error.detail || "—" }) : t("error_unknown");
}

// ---- API ---------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(code, status, detail) {
    super(code);
    this.code = code;
    this.status = status;
    this.detail = detail;
  }
}

// The session is over (expired, ended or refused): the page asks to sign in again.
export class SessionEnded extends Error {}

// A JSON call, never cached; a refusal throws an ApiError with the gateway's error code.
export async function fetchJson(url, init) {
  let response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { Accept: "application/json", ...init.headers },
      cache: "no-store",
    });
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

// ---- session -----------------------------------------------------------------------------

// What a tab keeps of its session under `key` in sessionStorage: gone when the tab closes,
// never seen by other tabs. An entry that is corrupt or no longer `current` is dropped.
export function storedSession(key, current) {
  return {
    load() {
      try {
        const saved = JSON.parse(sessionStorage.getItem(key) || "null");
        if (saved && current(saved)) return saved;
      } catch (error) {
        // A corrupt entry is treated as no session.
      }
      sessionStorage.removeItem(key);
      return null;
    },
    save(value) {
      sessionStorage.setItem(key, JSON.stringify(value));
    },
    clear() {
      sessionStorage.removeItem(key);
    },
  };
}
