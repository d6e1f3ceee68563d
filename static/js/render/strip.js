// @ts-check
/**
 * A full EndpointSlice drawn compactly: counts in words, then a strip of cells, one per endpoint,
 * whose state is told by shape and glyph (filled square, dashed ✕ box, striped ⊘ box), not colour alone.
 */

import { el, setAttr } from "../dom.js";
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
 * Make the strip's cells match the endpoints, patching states in place when the addresses are the
 * same. What each cell shows is remembered, so an update touches only the cells that changed.
 * @param {HTMLElement} strip
 * @param {EndpointView[]} eps
 * @param {string} namespace
 * @param {import("./highlight.js").HighlightState|null} hl
 * @param {boolean} animate
 */
export function drawStrip(strip, eps, namespace, hl, animate) {
  const holder = /** @type {{__cells?: string[], __marked?: boolean}} */ (/** @type {unknown} */ (strip));
  const keys = eps.map((ep) => `${ep.ip}|${ep.pod || ""}`).join(",");
  const same = strip.dataset.keys === keys && holder.__cells !== undefined;
  if (!same) {
    strip.dataset.keys = keys;
    strip.replaceChildren(...eps.map(() => el("i", { class: "cell" })));
    holder.__cells = [];
    holder.__marked = false;
  }
  const shown = /** @type {string[]} */ (holder.__cells);
  const cells = /** @type {HTMLCollectionOf<HTMLElement>} */ (strip.children);
  const marking = Boolean(hl && hl.any);
  for (let i = 0; i < eps.length; i++) {
    const ep = eps[i];
    const cell = cells[i];
    const podKey = ep.pod ? `${namespace}/${ep.pod}` : null;
    const sig = `${ep.state}|${ep.reason || ""}`;
    if (shown[i] !== sig) {
      const before = cell.dataset.state;
      if (before !== ep.state) {
        cell.dataset.state = ep.state;
        cell.textContent = GLYPH[/** @type {keyof typeof GLYPH} */ (ep.state)] ?? "?";
        if (same && animate && before) flash(cell, "cell");
      }
      setAttr(cell, "data-pod-key", podKey);
      cell.title = `${ep.ip} — ${ep.state.replace("-", " ").toUpperCase()}${ep.pod ? `\npod ${ep.pod}` : ""}${ep.reason ? `\n${ep.reason}` : ""}`;
      shown[i] = sig;
    }
    if (hl && (marking || holder.__marked)) mark(cell, hl.pod(podKey, ep.ip));
  }
  holder.__marked = marking;
}
