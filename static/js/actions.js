// @ts-check
/** POSTs the page's actions (scale, label, readiness, delete) and fetches explanations. Relative URLs only. */

import { postJSON as post } from "./http.js";

/**
 * @typedef {import("./http.js").HttpResult} ActionResult
 */

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
