// @ts-check
/**
 * The topology diagram's SVG: boxes and connectors keyed as the layout names them, patched in place
 * (an element is touched only when what it shows changed), in the layout's order so a screen reader
 * reads Service, slices, then each node's pods. New and changed boxes flash within the page's
 * per-frame animation budget. Writes only: nothing here reads layout.
 */

import { spend } from "./motion.js";

const SVG = "http://www.w3.org/2000/svg";

/**
 * @typedef {import("./topology-layout.js").Layout} Layout
 * @typedef {import("./topology-layout.js").Box} Box
 * @typedef {import("./topology-layout.js").Link} Link
 * @typedef {{el: SVGGElement, box: Box|null}} DrawnBox
 * @typedef {{el: SVGPathElement, link: Link|null}} DrawnLink
 */

/** @param {string} tag @param {Record<string, string>} [attrs] */
export function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** @param {Element} node @param {string} name @param {string|null} value */
function attr(node, name, value) {
  if (value === null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/** Half-pixel rounding: crisp lines, short attribute strings. @param {number} n */
function px(n) {
  return String(Math.round(n * 2) / 2);
}

/** @param {number[][][]} segments */
function pathOf(segments) {
  return segments.map((pts) => pts.map((p, i) => `${i ? "L" : "M"}${px(p[0])} ${px(p[1])}`).join(" ")).join(" ");
}

/** Whether two layouts of a box draw the same (compared field by field: a render allocates nothing for it). @param {Box} a @param {Box} b */
function sameBox(a, b) {
  if (a.x !== b.x || a.y !== b.y || a.w !== b.w || a.h !== b.h || a.state !== b.state || a.label !== b.label) return false;
  if (a.action !== b.action || a.expanded !== b.expanded || a.marked !== b.marked || a.podKey !== b.podKey || a.ip !== b.ip) return false;
  if (a.lines.length !== b.lines.length) return false;
  for (let i = 0; i < a.lines.length; i++) {
    const p = a.lines[i];
    const q = b.lines[i];
    if (p.text !== q.text || p.x !== q.x || p.y !== q.y || p.size !== q.size || p.cls !== q.cls || p.anchor !== q.anchor) return false;
  }
  return true;
}

/** @param {Link} a @param {Link} b */
function sameLink(a, b) {
  if (a.state !== b.state || a.label !== b.label || a.segments.length !== b.segments.length) return false;
  for (let i = 0; i < a.segments.length; i++) {
    const p = a.segments[i];
    const q = b.segments[i];
    if (p.length !== q.length) return false;
    for (let j = 0; j < p.length; j++) if (p[j][0] !== q[j][0] || p[j][1] !== q[j][1]) return false;
  }
  return true;
}

/** The flash of a box whose state changed, or that came in. */
const PULSE = [{ transform: "scale(1)" }, { transform: "scale(1.12)", offset: 0.35 }, { transform: "scale(1)" }];
const ENTER = [
  { opacity: 0, transform: "scale(0.6)" },
  { opacity: 1, transform: "scale(1.06)", offset: 0.6 },
  { opacity: 1, transform: "scale(1)" },
];

/**
 * @param {SVGSVGElement} svg
 */
export function createScene(svg) {
  const defs = svgEl("defs");
  // terminating boxes are striped like a barrier (the page's chips are)
  const stripes = svgEl("pattern", { id: "topo-stripes", width: "10", height: "10", patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  stripes.append(svgEl("rect", { class: "stripe-a", width: "10", height: "10" }), svgEl("rect", { class: "stripe-b", width: "5", height: "10" }));
  defs.append(stripes);
  const linkLayer = svgEl("g", { class: "topo-links", "aria-hidden": "true" });
  const boxLayer = svgEl("g", { class: "topo-boxes" });
  const flightLayer = /** @type {SVGGElement} */ (svgEl("g", { class: "topo-flights", "aria-hidden": "true" }));
  svg.append(defs, linkLayer, boxLayer, flightLayer);
  /** @type {Map<string, DrawnBox>} */
  const boxes = new Map();
  /** @type {Map<string, DrawnLink>} */
  const links = new Map();

  /** @param {Box} b @param {SVGGElement} g */
  function paintBox(b, g) {
    attr(g, "class", `tb kind-${b.kind}${b.marked ? " is-marked" : ""}`);
    attr(g, "data-state", b.state);
    attr(g, "data-pod-key", b.podKey || null);
    attr(g, "data-ip", b.ip || null);
    attr(g, "data-action", b.action || null);
    attr(g, "aria-label", b.label);
    const interactive = Boolean(b.action || (b.podKey && b.kind !== "endpoint" && b.kind !== "no-endpoint"));
    attr(g, "role", interactive ? "button" : "img");
    attr(g, "tabindex", interactive ? "0" : null);
    attr(g, "aria-expanded", b.expanded === true || b.expanded === false ? String(b.expanded) : null);
    const rect = /** @type {SVGRectElement} */ (g.firstElementChild);
    attr(rect, "x", px(b.x));
    attr(rect, "y", px(b.y));
    attr(rect, "width", px(b.w));
    attr(rect, "height", px(b.h));
    // a ready endpoint is a pill, as its chip is; everything else a box
    attr(rect, "rx", b.kind === "endpoint" && b.state === "ready" ? px(b.h / 2) : "6");
    const texts = b.lines.length + (b.marked ? 1 : 0);
    while (g.childElementCount - 1 > texts) /** @type {Element} */ (g.lastElementChild).remove();
    while (g.childElementCount - 1 < texts) g.append(svgEl("text"));
    let node = rect.nextElementSibling;
    for (const line of b.lines) {
      const t = /** @type {SVGTextElement} */ (node);
      attr(t, "x", px(line.x));
      attr(t, "y", px(line.y));
      attr(t, "font-size", px(line.size));
      // inline too: the layout computed every width from this size, no page rule may change it
      if (t.style.fontSize !== `${px(line.size)}px`) t.style.fontSize = `${px(line.size)}px`;
      attr(t, "class", line.cls);
      attr(t, "text-anchor", line.anchor === "end" ? "end" : null);
      if (t.textContent !== line.text) t.textContent = line.text;
      node = t.nextElementSibling;
    }
    if (b.marked && node) {
      // what the lesson step points at: a tag on the box's corner, besides the outline
      const size = b.lines.length ? b.lines[b.lines.length - 1].size : 12;
      attr(node, "x", px(b.x + b.w - 4));
      attr(node, "y", px(b.y + size * 0.35));
      attr(node, "font-size", px(size));
      attr(node, "class", "mark-tag");
      attr(node, "text-anchor", "end");
      if (node.textContent !== "◆ LOOK") node.textContent = "◆ LOOK";
    }
  }

  /** @param {Link} l @param {SVGPathElement} p */
  function paintLink(l, p) {
    attr(p, "class", `tl kind-${l.kind} state-${l.state}`);
    attr(p, "data-state", l.state);
    attr(p, "data-label", l.label || null);
    attr(p, "d", pathOf(l.segments));
  }

  /** @param {Element} node @param {Keyframe[]} frames @param {number} ms */
  function play(node, frames, ms) {
    if (!spend()) return;
    node.animate(frames, { duration: ms, easing: "cubic-bezier(.2,.7,.2,1)" });
  }

  return {
    /**
     * Make the SVG show `layout`. `animate`: flash what came in or changed state (not on a first draw).
     * @param {Layout} layout
     * @param {boolean} animate
     */
    draw(layout, animate) {
      attr(svg, "width", px(Math.ceil(layout.width)));
      attr(svg, "height", px(Math.ceil(layout.height)));
      attr(svg, "viewBox", `0 0 ${px(Math.ceil(layout.width))} ${px(Math.ceil(layout.height))}`);
      // connectors
      /** @type {Set<string>} */
      const liveLinks = new Set();
      let cursor = linkLayer.firstElementChild;
      for (const l of layout.links) {
        liveLinks.add(l.key);
        let drawn = links.get(l.key);
        if (!drawn) {
          const p = /** @type {SVGPathElement} */ (svgEl("path", { "data-key": l.key }));
          drawn = { el: p, link: null };
          links.set(l.key, drawn);
        }
        if (!drawn.link || !sameLink(drawn.link, l)) {
          paintLink(l, drawn.el);
          drawn.link = l;
        }
        if (drawn.el === cursor) cursor = cursor.nextElementSibling;
        else linkLayer.insertBefore(drawn.el, cursor);
      }
      for (const [key, drawn] of links) {
        if (!liveLinks.has(key)) {
          drawn.el.remove();
          links.delete(key);
        }
      }
      // boxes
      /** @type {Set<string>} */
      const liveBoxes = new Set();
      let at = boxLayer.firstElementChild;
      for (const b of layout.boxes) {
        liveBoxes.add(b.key);
        let drawn = boxes.get(b.key);
        let isNew = false;
        if (!drawn) {
          const g = /** @type {SVGGElement} */ (svgEl("g", { "data-key": b.key, "data-kind": b.kind }));
          g.append(svgEl("rect"));
          drawn = { el: g, box: null };
          boxes.set(b.key, drawn);
          isNew = true;
        }
        const before = drawn.box;
        if (!before || !sameBox(before, b)) {
          paintBox(b, drawn.el);
          drawn.box = b;
          if (animate && before && before.state !== b.state) play(drawn.el, PULSE, 700);
        }
        if (drawn.el === at) at = at.nextElementSibling;
        else boxLayer.insertBefore(drawn.el, at);
        if (animate && isNew && b.kind !== "node" && b.kind !== "note") play(drawn.el, ENTER, 600);
      }
      for (const [key, drawn] of boxes) {
        if (!liveBoxes.has(key)) {
          drawn.el.remove();
          boxes.delete(key);
        }
      }
    },
    /** The drawn box of a layout key, or null. @param {string} key */
    box(key) {
      const d = boxes.get(key);
      return d ? d.el : null;
    },
    /** Forget everything drawn (another Service is shown). */
    clear() {
      for (const d of boxes.values()) d.el.remove();
      for (const d of links.values()) d.el.remove();
      boxes.clear();
      links.clear();
      flightLayer.replaceChildren();
    },
    flightLayer,
    get size() {
      return { boxes: boxes.size, links: links.size };
    },
  };
}
