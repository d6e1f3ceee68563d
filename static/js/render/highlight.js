// @ts-check
/** Marks what the lesson step names (Services, pods, IPs) in the diagram: an outline and a text label, not colour alone. */

/**
 * @typedef {import("../model.js").Highlight} Highlight
 */

const MARK = "is-highlighted";

/**
 * Whether a Service key is named by the highlight (full "ns/name", or a bare name as a lesson file says it).
 * @param {string[]} names
 * @param {string} key
 */
export function namesService(names, key) {
  const name = key.slice(key.indexOf("/") + 1);
  return names.some((n) => n === key || (!n.includes("/") && n === name));
}

/**
 * Apply the highlight to the drawn page (call after every render). Returns the marked nodes.
 * @param {Highlight|null} hl
 * @returns {HTMLElement[]}
 */
export function applyHighlight(hl) {
  const services = (hl && hl.services) || [];
  const pods = new Set((hl && hl.pods) || []);
  const ips = new Set((hl && hl.ips) || []);
  /** @type {HTMLElement[]} */
  const marked = [];
  const main = document.querySelector("main");
  if (!main) return marked;
  for (const card of /** @type {NodeListOf<HTMLElement>} */ (main.querySelectorAll(".svc[data-key]"))) {
    const on = services.length > 0 && namesService(services, card.dataset.key || "");
    mark(card, on);
    if (on) marked.push(card);
  }
  const podNodes = /** @type {NodeListOf<HTMLElement>} */ (main.querySelectorAll(".chip, .orphan, .excluded-pod"));
  for (const node of podNodes) {
    if (node.classList.contains("chip-legend")) continue;
    const key = node.dataset.podKey || "";
    const ipNode = node.querySelector('[data-part="ip"]');
    const ip = ipNode ? ipNode.textContent || "" : "";
    const on = (key !== "" && pods.has(key)) || (ip !== "" && ips.has(ip));
    mark(node, on);
    if (on) marked.push(node);
  }
  document.documentElement.classList.toggle("has-highlight", marked.length > 0);
  return marked;
}

/** @param {HTMLElement} node @param {boolean} on */
function mark(node, on) {
  if (node.classList.contains(MARK) !== on) node.classList.toggle(MARK, on);
  if (on) node.dataset.highlight = "this step";
  else if (node.dataset.highlight) delete node.dataset.highlight;
}
