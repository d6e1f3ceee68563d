// @ts-check
/**
 * JSON over relative URLs for every module. Every POST carries the server's page token (a meta tag of
 * the page; other sites cannot read it) and, in presenter mode, the presenter's token (from ?token=…,
 * kept in sessionStorage).
 */

const TOKEN_KEY = "slicescope.token";
const CSRF_HEADER = "X-Slicescope-CSRF";

/** The page token of the server that rendered this page ("" when the page has none). */
let csrfToken = document.querySelector('meta[name="slicescope-csrf"]')?.getAttribute("content") || "";

/**
 * @typedef {{ok: boolean, status: number, message: string, body: any}} HttpResult
 */

/** Take `?token=` out of the address bar (it must not be shown on a projector or bookmarked) and keep it. */
function adoptToken() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl === null) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
  } catch {
    memoryToken = fromUrl;
  }
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

/** @type {string|null} when sessionStorage is unavailable */
let memoryToken = null;
adoptToken();

/** The presenter's token, or "" for a viewer. */
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || memoryToken || "";
  } catch {
    return memoryToken || "";
  }
}

/** Headers for a POST: JSON, the server's page token, and the presenter's token when this page has one. */
export function postHeaders() {
  /** @type {Record<string, string>} */
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  if (csrfToken) h[CSRF_HEADER] = csrfToken;
  const t = token();
  if (t) h["X-Slicescope-Token"] = t;
  return h;
}

/** After a server restart the page's token is stale: fetch the new one. @returns {Promise<boolean>} */
async function refreshCsrf() {
  try {
    const res = await fetch("api/csrf", { headers: { Accept: "application/json" } });
    const data = res.ok ? await res.json() : null;
    if (data && typeof data.token === "string" && data.token !== csrfToken) {
      csrfToken = data.token;
      return true;
    }
  } catch {
    /* the server is away: the caller shows the first answer */
  }
  return false;
}

/** @param {any} data @param {Response} res */
export function messageOf(data, res) {
  if (data && typeof data === "object") {
    if (typeof data.error === "string") return data.error;
    if (typeof data.text === "string") return data.text;
    if (typeof data.message === "string") return data.message;
    if (typeof data.detail === "string") return data.detail;
    if (data.detail && typeof data.detail === "object") return JSON.stringify(data.detail);
  }
  return res.ok ? "done" : `HTTP ${res.status} ${res.statusText}`;
}

/**
 * @param {() => Promise<Response>} request
 * @returns {Promise<HttpResult>}
 */
async function settle(request) {
  let res;
  try {
    res = await request();
  } catch (err) {
    return { ok: false, status: 0, message: `the server did not answer (${String(err)})`, body: null };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  return { ok: res.ok, status: res.status, message: messageOf(data, res), body: data };
}

/**
 * POST JSON to a relative path (once more with a fresh page token if the server restarted).
 * @param {string} path
 * @param {Record<string, unknown>} [body]
 * @returns {Promise<HttpResult>}
 */
export async function postJSON(path, body = {}) {
  const send = () => fetch(path, { method: "POST", headers: postHeaders(), body: JSON.stringify(body) });
  const first = await settle(send);
  if (first.status === 403 && first.body?.reason === "csrf" && (await refreshCsrf())) return settle(send);
  return first;
}

/**
 * GET JSON from a relative path.
 * @param {string} path
 * @returns {Promise<HttpResult>}
 */
export function getJSON(path) {
  return settle(() => fetch(path, { headers: { Accept: "application/json" } }));
}
