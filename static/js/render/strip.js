// @ts-check
/**
 * A full EndpointSlice drawn compactly: counts in words, then a strip of cells, one per endpoint,
 * whose state is told by shape and glyph (filled square, dashed ✕ box, striped ⊘ box), not colour alone.
 */

import { el, setAttr, setText } from "../dom.js";
import { mark } from "./highlight.js";
import { flash } from "./motion.js";

/**
 * @typedef {import("../model.js").EndpointView} EndpointView
 * @typedef {{ready: number, notReady: number, terminating: number, total: number}} StateCounts
 */

/** @param {EndpointView[]} eps @returns {StateCounts} */
export function countStates(eps) {
  let ready = 0;
  let notReady = 0;
  let terminating = 0;
  for (const ep of eps) {
    if (ep.state === "ready") ready += 1;
    else if (ep.state === "terminating") terminating += 1;
    else notReady += 1;
  }
  return { ready, notReady, terminating, total: eps.length };
}

/** "100 endpoints: 97 ready · 2 not ready · 1 terminating" @param {StateCounts} c */
export function countsText(c) {
  const parts = [`${c.ready} ready`];
  if (c.notReady) parts.push(`${c.notReady} not ready`);
  if (c.terminating) parts.push(`${c.terminating} terminating`);
  return `${c.total} endpoint${c.total === 1 ? "" : "s"}: ${parts.join(" · ")}`;
}

const GLYPH = { ready: "", "not-ready": "✕", terminating: "⊘" };

/**
 * Make the strip's cells match the endpoints, patching states in place when the addresses are the same.
 * @param {HTMLElement} strip
 * @param {EndpointView[]} eps
 * @param {string} namespace
 * @param {import("./highlight.js").HighlightState|null} hl
 * @param {boolean} animate
 */
export function drawStrip(strip, eps, namespace, hl, animate) {
  const keys = eps.map((ep) => `${ep.ip}|${ep.pod || ""}`).join(",");
  const same = strip.dataset.keys === keys;
  if (!same) {
    strip.dataset.keys = keys;
    const cells = eps.map(() => el("i", { class: "cell" }));
    strip.replaceChildren(...cells);
  }
  const cells = /** @type {HTMLCollectionOf<HTMLElement>} */ (strip.children);
  for (let i = 0; i < eps.length; i++) {
    const ep = eps[i];
    const cell = cells[i];
    const before = cell.dataset.state;
    if (before !== ep.state) {
      cell.dataset.state = ep.state;
      setText(cell, GLYPH[/** @type {keyof typeof GLYPH} */ (ep.state)] ?? "?");
      if (same && animate && before) flash(cell, "cell");
    }
    const podKey = ep.pod ? `${namespace}/${ep.pod}` : null;
    setAttr(cell, "data-pod-key", podKey);
    setAttr(cell, "title", `${ep.ip} — ${ep.state.replace("-", " ").toUpperCase()}${ep.pod ? `\npod ${ep.pod}` : ""}${ep.reason ? `\n${ep.reason}` : ""}`);
    if (hl) mark(cell, hl.pod(podKey, ep.ip));
  }
}
