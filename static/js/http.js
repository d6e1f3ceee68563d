// @ts-check
/** JSON over relative URLs for every module, with the presenter's token (from ?token=…, kept in sessionStorage). */

const TOKEN_KEY = "slicescope.token";

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

/** Headers for a POST: JSON, and the token when this page has one. */
export function postHeaders() {
  /** @type {Record<string, string>} */
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  const t = token();
  if (t) h["X-Slicescope-Token"] = t;
  return h;
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
 * @param {Promise<Response>} request
 * @returns {Promise<HttpResult>}
 */
async function settle(request) {
  let res;
  try {
    res = await request;
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
 * POST JSON to a relative path.
 * @param {string} path
 * @param {Record<string, unknown>} [body]
 * @returns {Promise<HttpResult>}
 */
export function postJSON(path, body = {}) {
  return settle(fetch(path, { method: "POST", headers: postHeaders(), body: JSON.stringify(body) }));
}

/**
 * GET JSON from a relative path.
 * @param {string} path
 * @returns {Promise<HttpResult>}
 */
export function getJSON(path) {
  return settle(fetch(path, { headers: { Accept: "application/json" } }));
}
