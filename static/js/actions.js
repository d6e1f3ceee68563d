// @ts-check
/** POSTs the page's actions (scale, label, readiness, delete) and fetches explanations. Relative URLs only. */

/**
 * @typedef {{ok: boolean, status: number, message: string, body: any}} ActionResult
 */

/**
 * @param {string} path
 * @param {Record<string, unknown>} body
 * @returns {Promise<ActionResult>}
 */
async function post(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
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

/** @param {any} data @param {Response} res */
function messageOf(data, res) {
  if (data && typeof data === "object") {
    if (typeof data.error === "string") return data.error;
    if (typeof data.text === "string") return data.text;
    if (typeof data.message === "string") return data.message;
    if (typeof data.detail === "string") return data.detail;
    if (data.detail && typeof data.detail === "object") return JSON.stringify(data.detail);
  }
  return res.ok ? "done" : `HTTP ${res.status} ${res.statusText}`;
}

/** @param {string} namespace @param {string} name @param {number} replicas */
export function scale(namespace, name, replicas) {
  return post("api/actions/scale", { namespace, name, replicas });
}

/** @param {string} namespace @param {string} pod @param {Record<string, string|null>} labels */
export function label(namespace, pod, labels) {
  return post("api/actions/label", { namespace, pod, labels });
}

/** @param {string} namespace @param {string} pod @param {boolean} passing */
export function readiness(namespace, pod, passing) {
  return post("api/actions/readiness", { namespace, pod, passing });
}

/** @param {string} namespace @param {string} pod */
export function deletePod(namespace, pod) {
  return post("api/actions/delete", { namespace, pod });
}

/**
 * GET api/explain/{kind}/{ns}/{name}; resolves to the parsed JSON (or text), or throws.
 * @param {"pod"|"service"} kind
 * @param {string} namespace
 * @param {string} name
 */
export async function explain(kind, namespace, name) {
  const res = await fetch(`api/explain/${kind}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, {
    headers: { Accept: "application/json" },
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

/** GET api/snapshot. */
export async function snapshot() {
  const res = await fetch("api/snapshot", { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}
