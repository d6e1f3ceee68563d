// @ts-check
/**
 * Animations a class can notice (enter, leave, state flips, bumped counts) through the Web Animations
 * API: no class restarts, no forced layout. A per-frame budget: past it, changes are drawn without a flash.
 */

const reduced = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;

/** Flashes one frame may start; a burst beyond it is drawn still (the counts tell the story). */
export const FRAME_BUDGET = 40;

let budget = FRAME_BUDGET;
let skipped = 0;

export function motionAllowed() {
  return !(reduced && reduced.matches) && !document.documentElement.classList.contains("no-motion");
}

/** Start a frame's budget (the renderer calls this once per frame). @param {number} [n] */
export function beginFrame(n = FRAME_BUDGET) {
  budget = n;
}

/** Whether one more animation may start in this frame (and count it). */
export function spend() {
  if (!motionAllowed()) return false;
  if (budget <= 0) {
    skipped += 1;
    return false;
  }
  budget -= 1;
  return true;
}

/** Animations skipped for the budget since the page opened (for tests and the curious). */
export function skippedCount() {
  return skipped;
}

const EASE = "cubic-bezier(.2,.7,.2,1)";

/** @type {Record<string, [Keyframe[], number]>} */
const KINDS = {
  enter: [
    [
      { transform: "scale(0.4)", opacity: 0 },
      { transform: "scale(1.08)", opacity: 1, boxShadow: "0 0 0 8px rgba(11, 79, 156, 0.55)", offset: 0.6 },
      { transform: "scale(1)", boxShadow: "0 0 0 0 rgba(11, 79, 156, 0)" },
    ],
    600,
  ],
  row: [[{ backgroundColor: "#ffe066", transform: "translateY(-0.6rem)", opacity: 0.2 }, { opacity: 1 }], 900],
  flip: [[{ transform: "rotateX(0)" }, { transform: "rotateX(90deg) scale(1.1)" }, { transform: "rotateX(0)" }], 700],
  bump: [[{ transform: "scale(1)" }, { transform: "scale(1.25)" }, { transform: "scale(1)" }], 500],
  cell: [[{ transform: "scale(1)" }, { transform: "scale(1.8)", offset: 0.3 }, { transform: "scale(1)" }], 700],
  found: [
    [{ outline: "6px solid #a1007f", outlineOffset: "10px" }, { outline: "6px solid #a1007f", outlineOffset: "2px" }],
    900,
  ],
};

/**
 * Play one animation on a node if the frame's budget allows.
 * @param {Element} node
 * @param {keyof typeof KINDS | string} kind enter | row | flip | bump | cell | found
 * @returns {Animation|null}
 */
export function flash(node, kind) {
  const spec = KINDS[kind] || KINDS.bump;
  if (!spend()) return null;
  return node.animate(spec[0], { duration: spec[1], easing: EASE });
}

/** Animate a new node in. @param {Element} node */
export function enter(node) {
  flash(node, node.classList.contains("svc") || node.classList.contains("slice") ? "row" : "enter");
}

/**
 * Animate a node out, then remove it. It stops being "live" at once (data-leaving) so keyed lookups skip it.
 * @param {HTMLElement} node
 */
export function leave(node) {
  node.dataset.leaving = "1";
  node.removeAttribute("data-key");
  if (!spend()) {
    node.remove();
    return;
  }
  node.style.pointerEvents = "none";
  const anim = node.animate(
    [
      { opacity: 1, transform: "scale(1)" },
      { boxShadow: "0 0 0 8px rgba(163, 0, 27, 0.6)", offset: 0.3 },
      { opacity: 0, transform: "scale(0.3)" },
    ],
    { duration: 700, easing: "ease-in", fill: "forwards" },
  );
  const done = () => node.remove();
  anim.onfinish = done;
  setTimeout(done, 1500); // in case the animation never finishes (hidden tab)
}
