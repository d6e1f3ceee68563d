// @ts-check
/** The area for pods whose labels match no Service (e.g. a pod relabelled out of its Deployment). */

import { el, labelText, part, setAttr, setText } from "../dom.js";
import { reconcile } from "./keyed.js";

/**
 * @param {HTMLElement} root a section holding a [data-part=list] and [data-part=empty]
 */
export function createOrphansView(root) {
  const list = part(root, "list");
  const empty = part(root, "empty");

  /** @returns {HTMLElement} */
  function create() {
    return el("button", { class: "orphan", attrs: { type: "button" } }, [
      el("span", { class: "orphan-state", dataset: { part: "state" } }),
      el("span", { class: "orphan-name", dataset: { part: "name" } }),
      el("span", { class: "orphan-line", dataset: { part: "line" } }),
      el("span", { class: "orphan-labels", dataset: { part: "labels" } }),
      el("span", { class: "orphan-owner", dataset: { part: "owner" } }),
    ]);
  }

  /** @param {HTMLElement} node @param {import("../model.js").PodView} pod */
  function update(node, pod) {
    setAttr(node, "data-pod-key", pod.key);
    node.dataset.ns = pod.namespace;
    const state = pod.terminating ? "terminating" : pod.ready ? "ready" : "not-ready";
    node.dataset.state = state;
    setText(part(node, "state"), `${pod.status} · ${pod.readyText} ready`);
    setText(part(node, "name"), pod.name);
    setText(part(node, "line"), `${pod.ip || "no IP"}${pod.node ? ` · ${pod.node}` : ""} · ns ${pod.namespace}`);
    setText(part(node, "labels"), labelText(pod.labels) || "no labels");
    setText(
      part(node, "owner"),
      pod.owner ? `owner ${pod.owner.kind} ${pod.owner.name}` : "no owner: an orphan, left running",
    );
  }

  return {
    /** @param {import("../model.js").Model} model @param {{all: boolean, pods: Set<string>}} changes */
    render(model, changes) {
      if (!changes.all && changes.pods.size === 0) return [];
      const pods = Object.values(model.pods)
        .filter((p) => !p.services || p.services.length === 0)
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const created = reconcile(list, pods, (p) => p.key, create, update, { animate: !changes.all });
      empty.hidden = pods.length > 0;
      root.dataset.count = String(pods.length);
      return created;
    },
  };
}
