// @ts-check
/** One endpoint chip: state told by a text label AND a shape (solid pill, dashed outline, striped). */

import { el, part, setAttr, setText } from "../dom.js";
import { mark } from "./highlight.js";
import { flash } from "./motion.js";

/** The words and glyph a class reads for each endpoint state. */
export const STATE_LABEL = {
  ready: { glyph: "✓", text: "READY" },
  "not-ready": { glyph: "✕", text: "NOT READY" },
  terminating: { glyph: "⊘", text: "TERMINATING" },
};

/** @param {string} state */
export function stateWords(state) {
  return STATE_LABEL[/** @type {keyof typeof STATE_LABEL} */ (state)] || { glyph: "?", text: state.toUpperCase() };
}

/** @returns {HTMLElement} */
export function createChip() {
  const chip = el("button", { class: "chip", attrs: { type: "button" } }, [
    el("span", { class: "chip-state" }, [
      el("span", { class: "chip-glyph", dataset: { part: "glyph" } }),
      el("span", { class: "chip-word", dataset: { part: "word" } }),
    ]),
    el("span", { class: "chip-ip", dataset: { part: "ip" } }),
    el("span", { class: "chip-pod", dataset: { part: "pod" } }),
    el("span", { class: "chip-node", dataset: { part: "node" } }),
  ]);
  return chip;
}

/**
 * @param {HTMLElement} chip
 * @param {import("../model.js").EndpointView} ep
 * @param {string} namespace
 * @param {boolean} isNew
 * @param {import("./highlight.js").HighlightState|null} [hl]
 */
export function updateChip(chip, ep, namespace, isNew, hl = null) {
  const words = stateWords(ep.state);
  const prev = chip.dataset.state;
  if (prev !== ep.state) {
    if (prev) chip.classList.remove(`state-${prev}`);
    chip.classList.add(`state-${ep.state}`);
    chip.dataset.state = ep.state;
    if (prev && !isNew) flash(chip, "flip");
  }
  setText(part(chip, "glyph"), words.glyph);
  setText(part(chip, "word"), words.text);
  setText(part(chip, "ip"), ep.ip);
  setText(part(chip, "pod"), ep.pod || "(no pod)");
  setText(part(chip, "node"), ep.node ? ep.node : "");
  const podKey = ep.pod ? `${namespace}/${ep.pod}` : null;
  setAttr(chip, "data-pod-key", podKey);
  if (hl) mark(chip, hl.pod(podKey, ep.ip));
  const title = [`${ep.ip} — ${words.text}`, ep.pod ? `pod ${ep.pod}` : "", ep.node ? `node ${ep.node}` : "", ep.reason || ""]
    .filter(Boolean)
    .join("\n");
  setAttr(chip, "title", title);
  setAttr(chip, "aria-label", `endpoint ${ep.ip} ${words.text}${ep.pod ? `, pod ${ep.pod}` : ""}`);
}
