// @ts-check
/**
 * The pods whose labels match no Service, grouped by why (no owner, owned by a workload no Service
 * selects, being deleted) with a count each; a small group is listed open, a big one until opened.
 */

import { el, labelText, part, setAttr, setText } from "../dom.js";
import { mark } from "./highlight.js";
import { reconcile } from "./keyed.js";

/** A group this small is listed open unless the user closed it. */
const OPEN_UP_TO = 10;
/** Rows an open group lists before "show more". */
const PAGE = 50;

/**
 * @typedef {import("../model.js").PodView} PodView
 * @typedef {{key: string, title: string, note: string, pods: PodView[]}} Group
 */

/** @param {PodView} pod @returns {[string, string, string]} group key, title, note */
function groupOf(pod) {
  if (pod.terminating) return ["terminating", "TERMINATING", "being deleted"];
  if (!pod.owner) return ["no-owner", "NO OWNER", "an orphan, left running"];
  return [`owned-${pod.owner.kind}`, `OWNED BY A ${pod.owner.kind}`, "no Service selects their labels"];
}

/** @param {string} key */
function rank(key) {
  return key === "no-owner" ? 0 : key === "terminating" ? 2 : 1;
}

/**
 * @param {HTMLElement} root a section holding a [data-part=list] and [data-part=empty]
 * @param {{highlight: import("./highlight.js").HighlightState, request: () => void}} opts
 */
export function createOrphansView(root, opts) {
  const list = part(root, "list");
  const empty = part(root, "empty");
  /** @type {Set<string>} */
  const orphans = new Set();
  /** @type {Map<string, {open: boolean|null, shown: number}>} */
  const state = new Map();
  let dirty = true;

  list.addEventListener("click", (ev) => {
    const t = /** @type {Element|null} */ (ev.target);
    const button = t && /** @type {HTMLElement|null} */ (t.closest("[data-toggle]"));
    if (!button) return;
    const key = button.dataset.group || "";
    const s = state.get(key) || { open: null, shown: 0 };
    const group = button.closest(".ogroup");
    if (button.dataset.toggle === "more") s.shown = (group ? group.querySelectorAll(".orphan").length : 0) + PAGE;
    else s.open = !(group && group.classList.contains("open"));
    state.set(key, s);
    dirty = true;
    opts.request();
  });

  /** @returns {HTMLElement} */
  function createGroup() {
    return el("div", { class: "ogroup" }, [
      el("button", { class: "ogroup-head", attrs: { type: "button", "aria-expanded": "false" }, dataset: { part: "head", toggle: "group" } }, [
        el("span", { class: "xgroup-mark", dataset: { part: "mark" } }),
        el("span", { class: "ogroup-title", dataset: { part: "title" } }),
        el("span", { class: "xgroup-count", dataset: { part: "count" } }),
        el("span", { class: "ogroup-note", dataset: { part: "note" } }),
      ]),
      el("div", { class: "orphan-items", dataset: { part: "items" } }),
      el("button", { class: "linkish xgroup-more", attrs: { type: "button", hidden: "" }, dataset: { part: "more", toggle: "more" } }),
    ]);
  }

  /** @param {HTMLElement} node @param {Group} g @param {boolean} animate */
  function updateGroup(node, g, animate) {
    const s = state.get(g.key);
    const hl = opts.highlight;
    const marked = g.pods.some((p) => hl.pod(p.key, p.ip));
    const open = s && s.open !== null ? s.open : g.pods.length <= OPEN_UP_TO || marked;
    const shown = Math.min(g.pods.length, Math.max(PAGE, (s && s.shown) || 0));
    node.dataset.group = g.key;
    node.dataset.count = String(g.pods.length);
    node.classList.toggle("open", open);
    const head = part(node, "head");
    head.dataset.group = g.key;
    head.setAttribute("aria-expanded", String(open));
    setText(part(node, "mark"), open ? "▾" : "▸");
    setText(part(node, "title"), g.title);
    setText(part(node, "count"), `${g.pods.length} pod${g.pods.length === 1 ? "" : "s"}`);
    setText(part(node, "note"), g.note);
    const items = part(node, "items");
    const more = part(node, "more");
    if (!open) {
      if (items.firstChild) items.replaceChildren();
      more.hidden = true;
      return;
    }
    reconcile(items, g.pods.slice(0, shown), (p) => p.key, create, update, { animate });
    more.hidden = shown >= g.pods.length;
    more.dataset.group = g.key;
    setText(more, `show ${Math.min(PAGE, g.pods.length - shown)} more of ${g.pods.length - shown}`);
  }

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

  /** @param {HTMLElement} node @param {PodView} pod */
  function update(node, pod) {
    setAttr(node, "data-pod-key", pod.key);
    node.dataset.ns = pod.namespace;
    const st = pod.terminating ? "terminating" : pod.ready ? "ready" : "not-ready";
    node.dataset.state = st;
    setText(part(node, "state"), `${pod.status} · ${pod.readyText} ready`);
    setText(part(node, "name"), pod.name);
    setText(part(node, "line"), `${pod.ip || "no IP"}${pod.node ? ` · ${pod.node}` : ""} · ns ${pod.namespace}`);
    setText(part(node, "labels"), labelText(pod.labels) || "no labels");
    setText(part(node, "owner"), pod.owner ? `owner ${pod.owner.kind} ${pod.owner.name}` : "no owner: an orphan, left running");
    mark(node, opts.highlight.pod(pod.key, pod.ip));
  }

  return {
    /**
     * @param {import("../model.js").Model} model
     * @param {{all: boolean, pods: Set<string>}} changes
     * @param {boolean} highlightChanged
     */
    render(model, changes, highlightChanged) {
      if (changes.all) {
        orphans.clear();
        for (const p of Object.values(model.pods)) if (!p.services || p.services.length === 0) orphans.add(p.key);
        dirty = true;
      } else {
        for (const k of changes.pods) {
          const p = model.pods[k];
          const is = Boolean(p && (!p.services || p.services.length === 0));
          if (is || orphans.has(k)) dirty = true;
          if (is) orphans.add(k);
          else orphans.delete(k);
        }
      }
      if (!dirty && !highlightChanged) return;
      dirty = false;
      /** @type {Map<string, Group>} */
      const groups = new Map();
      const keys = [...orphans].sort();
      for (const k of keys) {
        const pod = model.pods[k];
        if (!pod) continue;
        const [gk, title, note] = groupOf(pod);
        const g = groups.get(gk);
        if (g) g.pods.push(pod);
        else groups.set(gk, { key: gk, title, note, pods: [pod] });
      }
      const ordered = [...groups.values()].sort((a, b) => rank(a.key) - rank(b.key) || (a.key < b.key ? -1 : 1));
      const animate = !changes.all;
      // a group that empties animates out with its last pods, which stop counting as drawn at once
      const wanted = new Set(ordered.map((g) => g.key));
      for (const node of /** @type {HTMLCollectionOf<HTMLElement>} */ (list.children)) {
        if (node.dataset.key !== undefined && !wanted.has(node.dataset.key)) {
          for (const pod of /** @type {NodeListOf<HTMLElement>} */ (node.querySelectorAll(".orphan"))) pod.dataset.leaving = "1";
        }
      }
      reconcile(list, ordered, (g) => g.key, createGroup, (node, g) => updateGroup(node, g, animate), { animate });
      empty.hidden = orphans.size > 0;
      root.dataset.count = String(orphans.size);
    },
  };
}
