// @ts-check
/** Animations a class can notice: enter, leave, state flips and FLIP moves; all off under reduced motion. */

const reduced = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;

export function motionAllowed() {
  return !(reduced && reduced.matches) && !document.documentElement.classList.contains("no-motion");
}

/** Play a CSS animation class once (restarting it if it is already running). @param {Element} node @param {string} cls */
export function flash(node, cls) {
  if (!motionAllowed()) return;
  node.classList.remove(cls);
  // force a style flush so the animation restarts
  void (/** @type {HTMLElement} */ (node).offsetWidth);
  node.classList.add(cls);
  node.addEventListener("animationend", () => node.classList.remove(cls), { once: true });
}

/** Animate a new node in. @param {Element} node */
export function enter(node) {
  flash(node, "is-entering");
}

/**
 * Animate a node out, then remove it. It stops being "live" at once (data-leaving) so keyed lookups skip it.
 * @param {HTMLElement} node
 */
export function leave(node) {
  node.dataset.leaving = "1";
  node.removeAttribute("data-key");
  if (!motionAllowed()) {
    node.remove();
    return;
  }
  node.classList.add("is-leaving");
  const done = () => node.remove();
  node.addEventListener("animationend", done, { once: true });
  setTimeout(done, 1500); // in case the animation never runs (hidden, display:none)
}

/**
 * @typedef {{rect: DOMRect, parent: DOMRect|null}} Place
 */

/**
 * Record where keyed nodes are (and where their list is), so that after a patch they can glide from
 * there (FLIP). Moves are measured inside the list: a chip does not lag behind its whole card.
 * @param {Iterable<HTMLElement>} nodes
 * @returns {Map<HTMLElement, Place>}
 */
export function measure(nodes) {
  /** @type {Map<HTMLElement, Place>} */
  const places = new Map();
  if (!motionAllowed()) return places;
  for (const n of nodes) {
    const parent = n.parentElement;
    places.set(n, { rect: n.getBoundingClientRect(), parent: parent ? parent.getBoundingClientRect() : null });
  }
  return places;
}

/**
 * Play the moves: every measured node that is still in the page and moved inside its list glides there.
 * @param {Map<HTMLElement, Place>} before
 */
export function glide(before) {
  if (!motionAllowed() || before.size === 0) return;
  for (const [node, old] of before) {
    if (!node.isConnected || node.dataset.leaving) continue;
    const now = node.getBoundingClientRect();
    const parent = node.parentElement ? node.parentElement.getBoundingClientRect() : null;
    const ox = old.parent ? old.parent.left : 0;
    const oy = old.parent ? old.parent.top : 0;
    const nx = parent ? parent.left : 0;
    const ny = parent ? parent.top : 0;
    const dx = old.rect.left - ox - (now.left - nx);
    const dy = old.rect.top - oy - (now.top - ny);
    if (Math.abs(dx) < 1 && Math.abs(dy) < 1) continue;
    if (now.width === 0 && now.height === 0) continue;
    node.animate([{ transform: `translate(${dx}px, ${dy}px)` }, { transform: "translate(0, 0)" }], {
      duration: 450,
      easing: "cubic-bezier(.2,.7,.2,1)",
    });
  }
}

/**
 * A node that just appeared flies in from where its pod was drawn before (e.g. a relabelled pod
 * leaving its Service for the "matches no Service" area).
 * @param {HTMLElement} node
 * @param {DOMRect} from
 */
export function flyFrom(node, from) {
  if (!motionAllowed()) return;
  const now = node.getBoundingClientRect();
  if (now.width === 0) return;
  const dx = from.left - now.left;
  const dy = from.top - now.top;
  node.animate(
    [
      { transform: `translate(${dx}px, ${dy}px)`, outline: "4px solid currentColor" },
      { transform: "translate(0, 0)", outline: "4px solid transparent" },
    ],
    { duration: 700, easing: "cubic-bezier(.2,.7,.2,1)" },
  );
}
