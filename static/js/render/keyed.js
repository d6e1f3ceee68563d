// @ts-check
/** Keyed list patching: reuse nodes by key, create the new, animate out the gone, keep the order. */

import { enter, leave } from "./motion.js";

/**
 * Make `container`'s keyed children match `items` in order. Nodes carry `data-key`; nodes being
 * animated out carry `data-leaving` and are skipped.
 * @template T
 * @param {HTMLElement} container
 * @param {T[]} items
 * @param {(item: T) => string} keyOf
 * @param {(item: T) => HTMLElement} create
 * @param {(node: HTMLElement, item: T, isNew: boolean) => void} update
 * @param {{animate?: boolean, onCreate?: (node: HTMLElement, item: T) => void}} [opts]
 * @returns {HTMLElement[]} the nodes created by this call
 */
export function reconcile(container, items, keyOf, create, update, opts = {}) {
  const animate = opts.animate !== false;
  /** @type {Map<string, HTMLElement>} */
  const existing = new Map();
  for (const child of Array.from(container.children)) {
    const node = /** @type {HTMLElement} */ (child);
    if (node.dataset.leaving || node.dataset.key === undefined) continue;
    existing.set(node.dataset.key, node);
  }
  const wanted = new Set(items.map(keyOf));
  for (const [key, node] of existing) {
    if (!wanted.has(key)) {
      existing.delete(key);
      if (animate) leave(node);
      else node.remove();
    }
  }
  /** @type {HTMLElement[]} */
  const created = [];
  let cursor = nextLive(container.firstElementChild);
  for (const item of items) {
    const key = keyOf(item);
    let node = existing.get(key);
    const isNew = !node;
    if (!node) {
      node = create(item);
      node.dataset.key = key;
      existing.set(key, node);
      created.push(node);
    }
    update(node, item, isNew);
    if (node === cursor) {
      cursor = nextLive(node.nextElementSibling);
    } else {
      container.insertBefore(node, cursor);
    }
    if (isNew) {
      if (opts.onCreate) opts.onCreate(node, item);
      if (animate) enter(node);
    }
  }
  return created;
}

/** @param {Element|null} node @returns {HTMLElement|null} */
function nextLive(node) {
  let n = node;
  while (n && /** @type {HTMLElement} */ (n).dataset.leaving) n = n.nextElementSibling;
  return /** @type {HTMLElement|null} */ (n);
}
