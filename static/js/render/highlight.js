// @ts-check
/**
 * What the lesson step names (Services, pods, IPs): kept as sets that each drawn node is checked
 * against when it is drawn, marked with an outline and a text label, not colour alone.
 */

/**
 * @typedef {import("../model.js").Highlight} Highlight
 * @typedef {import("../model.js").Model} Model
 */

export const MARK = "is-highlighted";

/**
 * Whether a Service key is named by the highlight (full "ns/name", or a bare name as a lesson file says it).
 * @param {string[]} names
 * @param {string} key
 */
export function namesService(names, key) {
  const name = key.slice(key.indexOf("/") + 1);
  return names.some((n) => n === key || (!n.includes("/") && n === name));
}

/** @param {Record<string,string>[]} selectors @param {import("../model.js").PodView} pod */
function selected(selectors, pod) {
  if (pod.terminating) return false;
  const labels = pod.labels || {};
  return selectors.some((sel) => Object.entries(sel).every(([k, v]) => labels[k] === v));
}

/** The highlight of the current lesson step, as sets. */
export function createHighlight() {
  /** @type {string[]} */
  let services = [];
  /** @type {Set<string>} */
  let pods = new Set();
  /** @type {Set<string>} */
  let ips = new Set();
  /** @type {Record<string,string>[]} */
  let selectors = [];
  let signature = "";

  return {
    /**
     * Follow the model: the step's highlight, and pods its selectors select (only changed pods are
     * looked at, unless `all`). Returns whether what is marked changed.
     * @param {Model} model
     * @param {import("../model.js").Changes} changes
     */
    update(model, changes) {
      const s = model.meta && model.meta.classroom && model.meta.classroom.scenario;
      const hl = s && s.highlight ? s.highlight : null;
      const sig = JSON.stringify(hl);
      const rebuild = sig !== signature || changes.all;
      if (rebuild) {
        signature = sig;
        services = (hl && hl.services) || [];
        ips = new Set((hl && hl.ips) || []);
        selectors = (hl && Array.isArray(hl.selectors) && hl.selectors) || [];
        pods = new Set((hl && hl.pods) || []);
        if (selectors.length) for (const pod of Object.values(model.pods)) if (selected(selectors, pod)) pods.add(pod.key);
        return true;
      }
      if (!selectors.length || changes.pods.size === 0) return false;
      const named = new Set((hl && hl.pods) || []);
      let changed = false;
      for (const key of changes.pods) {
        const pod = model.pods[key];
        const on = named.has(key) || Boolean(pod && selected(selectors, pod));
        if (on !== pods.has(key)) {
          changed = true;
          if (on) pods.add(key);
          else pods.delete(key);
        }
      }
      return changed;
    },
    /** @param {string} key */
    service(key) {
      return services.length > 0 && namesService(services, key);
    },
    /** @param {string|null|undefined} podKey @param {string|null|undefined} [ip] */
    pod(podKey, ip) {
      return Boolean((podKey && pods.has(podKey)) || (ip && ips.has(ip)));
    },
    get any() {
      return services.length > 0 || pods.size > 0 || ips.size > 0;
    },
    get pods() {
      return pods;
    },
    get services() {
      return services;
    },
  };
}

/** @typedef {ReturnType<typeof createHighlight>} HighlightState */

/** Mark or unmark one node (outline + "◆ THIS STEP" / "◆ LOOK" label in CSS). @param {HTMLElement} node @param {boolean} on */
export function mark(node, on) {
  if (node.classList.contains(MARK) !== on) node.classList.toggle(MARK, on);
  if (on) {
    if (node.dataset.highlight !== "this step") node.dataset.highlight = "this step";
  } else if (node.dataset.highlight) delete node.dataset.highlight;
}
