// @ts-check
/** The timeline of changes, newest first, like `kubectl get endpoints -w` told in words. */

import { clock, el, part, setText } from "../dom.js";
import { reconcile } from "./keyed.js";

const KIND_WORDS = { endpoint: "ENDPOINT", pod: "POD", service: "SERVICE", action: "YOU", source: "LINK" };

/** @param {HTMLElement} root holds [data-part=list] */
export function createTimelineView(root) {
  const list = part(root, "list");

  /** @returns {HTMLElement} */
  function create() {
    return el("li", { class: "tl-item" }, [
      el("time", { class: "tl-time", dataset: { part: "time" } }),
      el("span", { class: "tl-kind", dataset: { part: "kind" } }),
      el("span", { class: "tl-text", dataset: { part: "text" } }),
    ]);
  }

  /** @param {HTMLElement} node @param {import("../model.js").TimelineEntry} e */
  function update(node, e) {
    setText(part(node, "time"), clock(e.time));
    const kind = part(node, "kind");
    setText(kind, KIND_WORDS[/** @type {keyof typeof KIND_WORDS} */ (e.kind)] || String(e.kind).toUpperCase());
    kind.className = `tl-kind tl-kind-${e.kind}`;
    setText(part(node, "text"), e.text);
    node.dataset.ns = e.service ? e.service.split("/")[0] : "";
    if (e.pod && e.service) node.dataset.podKey = `${e.service.split("/")[0]}/${e.pod}`;
  }

  return {
    /** @param {import("../model.js").Model} model @param {{all: boolean, timeline: boolean}} changes */
    render(model, changes) {
      if (!changes.all && !changes.timeline) return;
      reconcile(list, model.timeline, (e) => String(e.id), create, update, { animate: !changes.all });
      root.dataset.count = String(model.timeline.length);
    },
  };
}
