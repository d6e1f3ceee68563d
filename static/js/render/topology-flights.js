// @ts-check
/**
 * Simulated requests drawn on the topology diagram: a dot travels the connectors from the Service
 * through its slice to the endpoint and the pod the request reached (positions come from the layout,
 * none is measured); a request with no ready endpoint stops at the Service with "✕ no ready endpoints".
 */

import { svgEl } from "./topology-svg.js";

/** Speed of a request along the connectors (px per ms), and the bounds of one flight. */
const SPEED = 1.4;
const SHORTEST_MS = 700;
const LONGEST_MS = 1800;

/** @param {number[][]} points */
function lengthOf(points) {
  let n = 0;
  for (let i = 1; i < points.length; i++) n += Math.hypot(points[i][0] - points[i - 1][0], points[i][1] - points[i - 1][1]);
  return n;
}

/**
 * Send a dot along `points` (diagram px); it is removed when it arrives.
 * @param {SVGGElement} layer
 * @param {number[][]} points
 * @param {number} radius
 * @param {string|null} podKey where it goes (for tests and the curious)
 * @returns {Animation}
 */
export function fly(layer, points, radius, podKey) {
  const dot = svgEl("circle", { class: "topo-dot", r: String(Math.round(radius)), cx: "0", cy: "0" });
  if (podKey) dot.setAttribute("data-pod-key", podKey);
  layer.append(dot);
  const total = lengthOf(points) || 1;
  let run = 0;
  // the way takes 90% of the time (each leg as long as it is), then it lands, grows and fades on the pod
  /** @type {Keyframe[]} */
  const frames = points.map((p, i) => {
    if (i) run += Math.hypot(p[0] - points[i - 1][0], p[1] - points[i - 1][1]);
    return { transform: `translate(${p[0]}px, ${p[1]}px)`, offset: Math.min(1, run / total) * 0.9 };
  });
  const last = points[points.length - 1];
  // (opacity is named on the way, or it would fade all along it)
  for (const f of frames) f.opacity = 1;
  frames.push({ transform: `translate(${last[0]}px, ${last[1]}px) scale(2.2)`, opacity: 0, offset: 1 });
  const ms = Math.max(SHORTEST_MS, Math.min(LONGEST_MS, total / SPEED));
  const anim = dot.animate(frames, { duration: ms, easing: "linear" });
  const done = () => dot.remove();
  anim.onfinish = done;
  setTimeout(done, ms + 1000); // a hidden tab may never finish it
  return anim;
}

/**
 * A request that found no ready endpoint: a ✕ and the words at the Service's edge, fading.
 * @param {SVGGElement} layer
 * @param {{x: number, y: number}} at
 * @param {number} size font size (px)
 */
export function bounce(layer, at, size) {
  const text = svgEl("text", { class: "topo-failed", x: String(Math.round(at.x + 6)), y: String(Math.round(at.y - size * 0.6)), "font-size": String(Math.round(size)) });
  text.textContent = "✕ no ready endpoints";
  layer.append(text);
  const ms = 1400;
  const anim = text.animate(
    [
      { opacity: 0, transform: "translateX(-12px)" },
      { opacity: 1, transform: "translateX(0)", offset: 0.2 },
      { opacity: 1, offset: 0.75 },
      { opacity: 0 },
    ],
    { duration: ms },
  );
  const done = () => text.remove();
  anim.onfinish = done;
  setTimeout(done, ms + 1000);
  return anim;
}
