// @ts-check
/**
 * One Service card: facts, counts, the no-ready-endpoints diagnosis, its EndpointSlices (chips, or a
 * compact strip for a full slice), the pods left out grouped by reason, the legacy Endpoints object.
 */

import { el, labelText, part, setAttr, setText } from "../dom.js";
import { createChip, updateChip } from "./chips.js";
import { mark } from "./highlight.js";
import { reconcile } from "./keyed.js";
import { legacyLines } from "./legacy.js";
import { flash } from "./motion.js";
import { countStates, countsText, drawStrip } from "./strip.js";

/** A slice with more endpoints than this draws small chips (state glyph + IP) so many still fit. */
export const DENSE_AT = 24;
/** A slice with more endpoints than this (a full slice holds 100) is drawn as a strip until expanded. */
export const COMPACT_ABOVE = 50;
/** A group of left-out pods this small is listed open; a bigger one shows its count until opened. */
export const GROUP_OPEN_UP_TO = 10;
/** Rows one open group lists before "show more". */
export const GROUP_PAGE = 50;

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {import("../model.js").ServiceView} ServiceView
 * @typedef {import("../model.js").SliceView} SliceView
 * @typedef {import("../model.js").Excluded} Excluded
 * @typedef {import("../model.js").DeploymentView} DeploymentView
 * @typedef {{
 *   onScale: (namespace: string, deployment: string, replicas: number) => Promise<{ok: boolean, message: string}>,
 *   onExplainService: (key: string) => void,
 *   onTraffic: (key: string) => void,
 *   onToggleSlice: (serviceKey: string, sliceName: string) => void,
 *   onToggleGroup: (serviceKey: string, reason: string, more: boolean) => void,
 * }} CardHandlers
 * @typedef {{
 *   model: Model,
 *   deployments: DeploymentView[],
 *   actions: boolean,
 *   hl: import("./highlight.js").HighlightState,
 *   expanded: Set<string>,
 *   groups: Map<string, {open: boolean|null, shown: number}>,
 *   animate: boolean,
 * }} CardContext
 */

export const EXCLUDED_WORDS = {
  "not-ready": "NOT READY",
  terminating: "TERMINATING",
  "no-ip": "NO IP YET",
  "missing-port": "NO SUCH PORT",
  terminal: "FINISHED",
};
const REASON_ORDER = ["not-ready", "terminating", "no-ip", "missing-port", "terminal"];

/** "80 → 8080/TCP" for each Service port. @param {ServiceView} svc */
export function portsText(svc) {
  if (!svc.ports || svc.ports.length === 0) return "none";
  return svc.ports
    .map((p) => `${p.name ? `${p.name}: ` : ""}${p.port} → ${p.targetPort}/${p.protocol || "TCP"}`)
    .join(", ");
}

/** @param {ServiceView} svc */
function clusterIPText(svc) {
  if (svc.type === "ExternalName") return svc.externalName ? `→ ${svc.externalName}` : "—";
  if (svc.headless || svc.clusterIP === "None") return "None (headless)";
  return svc.clusterIP || "unset";
}

/** Whether a slice is drawn as a strip. @param {SliceView} slice @param {string} serviceKey @param {Set<string>} expanded */
export function isCompact(slice, serviceKey, expanded) {
  return (slice.endpoints || []).length > COMPACT_ABOVE && !expanded.has(`${serviceKey}|${slice.name}`);
}

/** @param {string} label @param {string} name */
function fact(label, name) {
  return el("div", { class: `fact fact-${name}` }, [el("dt", { text: label }), el("dd", { dataset: { part: name } })]);
}

/**
 * @param {ServiceView} svc
 * @param {CardHandlers} handlers
 * @returns {HTMLElement}
 */
export function createCard(svc, handlers) {
  const scaleInput = el("input", {
    class: "scale-input",
    dataset: { part: "scale-input" },
    attrs: { type: "number", min: "0", max: "1000", step: "1", inputmode: "numeric" },
  });
  const card = el("article", { class: "svc", attrs: { "aria-label": `Service ${svc.name}` } }, [
    el("header", { class: "svc-head" }, [
      el("div", { class: "svc-title" }, [
        el("span", { class: "kind-tag", text: "Service" }),
        el("h2", { class: "svc-name", dataset: { part: "name" } }),
        el("span", { class: "ns-tag", dataset: { part: "ns" } }),
        el("button", {
          class: "linkish explain-svc",
          text: "why?",
          attrs: { type: "button", title: "Explain this Service's endpoints" },
          dataset: { part: "explain" },
        }),
        el("dl", { class: "facts" }, [fact("type", "type"), fact("ClusterIP", "cluster-ip"), fact("ports", "ports")]),
      ]),
      el("div", { class: "svc-row" }, [
        el("dl", { class: "facts" }, [fact("selector", "selector")]),
        el("div", { class: "counts", dataset: { part: "counts" } }, [
          el("span", { class: "count count-ready", dataset: { part: "count-ready" } }),
          el("span", { class: "count count-not-ready", dataset: { part: "count-not-ready" } }),
          el("span", { class: "count count-terminating", dataset: { part: "count-terminating" } }),
        ]),
        el("form", { class: "scale", dataset: { part: "scale" }, attrs: { hidden: "" } }, [
          el("label", { class: "scale-label" }, [
            el("span", { text: "Deployment " }),
            el("strong", { dataset: { part: "deployment" } }),
            el("span", { class: "scale-now", dataset: { part: "scale-now" } }),
            scaleInput,
          ]),
          el("button", { class: "btn", text: "Scale", attrs: { type: "submit" } }),
          el("span", { class: "scale-msg", dataset: { part: "scale-msg" }, attrs: { "aria-live": "polite" } }),
        ]),
        el("button", {
          class: "btn traffic-toggle control",
          text: "▶ Send traffic",
          attrs: { type: "button", "aria-pressed": "false", title: "Send simulated requests through this Service" },
          dataset: { part: "traffic-toggle" },
        }),
      ]),
    ]),
    el("div", { class: "diagnosis", dataset: { part: "diagnosis" }, attrs: { hidden: "", role: "status" } }, [
      el("strong", { class: "diagnosis-head", dataset: { part: "diagnosis-head" } }),
      el("span", { class: "diagnosis-text", dataset: { part: "diagnosis-text" } }),
    ]),
    el("div", { class: "slices", dataset: { part: "slices" } }),
    el("section", { class: "excluded", dataset: { part: "excluded-box" }, attrs: { hidden: "" } }, [
      el("h3", {}, [el("span", { text: "Match the selector but get no traffic " }), el("span", { class: "muted", dataset: { part: "excluded-n" } })]),
      el("div", { class: "xgroups", dataset: { part: "excluded" } }),
    ]),
    el("details", { class: "legacy", dataset: { part: "legacy" } }, [
      el("summary", { text: "Legacy Endpoints object (kubectl describe endpoints)" }),
      el("pre", { class: "legacy-body", dataset: { part: "legacy-body" } }),
    ]),
  ]);
  const form = /** @type {HTMLFormElement} */ (part(card, "scale"));
  scaleInput.addEventListener("input", () => (scaleInput.dataset.dirty = "1"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const dep = form.dataset.deployment;
    const ns = card.dataset.ns;
    const n = Number(/** @type {HTMLInputElement} */ (scaleInput).value);
    const msg = part(card, "scale-msg");
    if (!dep || !ns || !Number.isInteger(n) || n < 0) {
      msg.textContent = "enter a whole number ≥ 0";
      return;
    }
    msg.textContent = `scaling to ${n}…`;
    const result = await handlers.onScale(ns, dep, n);
    delete scaleInput.dataset.dirty;
    msg.textContent = result.ok ? `asked for ${n}` : `failed: ${result.message}`;
  });
  part(card, "explain").addEventListener("click", () => handlers.onExplainService(card.dataset.key || ""));
  part(card, "traffic-toggle").addEventListener("click", () => handlers.onTraffic(card.dataset.key || ""));
  // one listener per card for the slice and group toggles inside it
  card.addEventListener("click", (ev) => {
    const target = /** @type {Element|null} */ (ev.target);
    const toggle = target && /** @type {HTMLElement|null} */ (target.closest("[data-toggle]"));
    if (!toggle || !card.contains(toggle)) return;
    const key = card.dataset.key || "";
    const what = toggle.dataset.toggle;
    if (what === "slice") handlers.onToggleSlice(key, toggle.dataset.slice || "");
    else if (what === "group") handlers.onToggleGroup(key, toggle.dataset.reason || "", false);
    else if (what === "more") handlers.onToggleGroup(key, toggle.dataset.reason || "", true);
  });
  const legacy = /** @type {HTMLDetailsElement} */ (part(card, "legacy"));
  legacy.addEventListener("toggle", () => {
    const svc = /** @type {any} */ (card).__svc;
    if (legacy.open && svc) renderLegacy(card, svc);
  });
  return card;
}

/**
 * Draw the Service into its card (a card already showing this very ServiceView is left alone unless `force`).
 * @param {HTMLElement} card
 * @param {ServiceView} svc
 * @param {CardContext} ctx
 * @param {boolean} force
 */
export function updateCard(card, svc, ctx, force) {
  const holder = /** @type {any} */ (card);
  const prev = holder.__svc;
  holder.__svc = svc;
  card.dataset.ns = svc.namespace;
  mark(card, ctx.hl.service(svc.key));
  if (prev === svc && !force) {
    updateScale(card, svc, ctx);
    return;
  }
  const animate = ctx.animate && prev !== undefined;
  setText(part(card, "name"), svc.name);
  setText(part(card, "ns"), `ns ${svc.namespace}`);
  setText(part(card, "type"), svc.type);
  setText(part(card, "cluster-ip"), clusterIPText(svc));
  setText(part(card, "selector"), svc.selector ? labelText(svc.selector) || "{} (matches nothing)" : "none (no selector)");
  setText(part(card, "ports"), portsText(svc));
  const c = svc.counts || { ready: 0, notReady: 0, terminating: 0, slices: 0 };
  updateCount(part(card, "count-ready"), c.ready, "ready", animate);
  updateCount(part(card, "count-not-ready"), c.notReady, "not ready", animate);
  updateCount(part(card, "count-terminating"), c.terminating, "terminating", animate);

  const diag = part(card, "diagnosis");
  if (svc.diagnosis) {
    const head = svc.diagnosis.code === "external-name" ? "NO ENDPOINTS: a DNS alias" : "⚠ NO READY ENDPOINTS:";
    setText(part(card, "diagnosis-head"), head);
    setText(part(card, "diagnosis-text"), svc.diagnosis.text);
    diag.dataset.code = svc.diagnosis.code;
    if (diag.hidden) {
      diag.hidden = false;
      if (animate) flash(diag, "enter");
    }
    card.classList.add("has-diagnosis");
  } else {
    diag.hidden = true;
    card.classList.remove("has-diagnosis");
  }

  reconcile(
    part(card, "slices"),
    svc.slices || [],
    (s) => s.name,
    createSlice,
    (node, slice, isNew) => updateSlice(node, slice, svc, ctx, animate && !isNew),
    { animate },
  );

  drawExcluded(card, svc, ctx, animate);
  const legacy = /** @type {HTMLDetailsElement} */ (part(card, "legacy"));
  if (legacy.open) renderLegacy(card, svc);
  updateScale(card, svc, ctx);
}

/** @param {HTMLElement} node @param {number} n @param {string} words @param {boolean} animate */
function updateCount(node, n, words, animate) {
  if (setText(node, `${n} ${words}`) && animate) flash(node, "bump");
  node.dataset.n = String(n);
  node.classList.toggle("is-zero", n === 0);
}

/** @returns {HTMLElement} */
function createSlice() {
  return el("section", { class: "slice" }, [
    el("h3", { class: "slice-head" }, [
      el("span", { class: "kind-tag", text: "EndpointSlice" }),
      el("span", { class: "slice-name", dataset: { part: "name" } }),
      el("span", { class: "slice-meta", dataset: { part: "meta" } }),
    ]),
    el("div", { class: "strip-line", dataset: { part: "strip-line" }, attrs: { hidden: "" } }, [
      el("span", { class: "strip-counts", dataset: { part: "strip-counts" } }),
      el("button", {
        class: "btn strip-toggle",
        attrs: { type: "button", "aria-expanded": "false" },
        dataset: { part: "strip-toggle", toggle: "slice" },
      }),
    ]),
    el("div", { class: "strip", dataset: { part: "strip" }, attrs: { role: "img" } }),
    el("div", { class: "chips", dataset: { part: "chips" } }),
  ]);
}

/**
 * @param {HTMLElement} node
 * @param {SliceView} slice
 * @param {ServiceView} svc
 * @param {CardContext} ctx
 * @param {boolean} animate
 */
function updateSlice(node, slice, svc, ctx, animate) {
  const eps = slice.endpoints || [];
  const n = eps.length;
  setText(part(node, "name"), slice.name);
  const ports = (slice.ports || []).map((p) => `${p.port}/${p.protocol}`).join(", ") || "no ports";
  setText(part(node, "meta"), `${slice.addressType} · ${n} endpoint${n === 1 ? "" : "s"} · ${ports}`);
  const counts = countStates(eps);
  // for readers that do not draw: the slice's counts whatever its form
  setAttr(node, "data-total", String(n));
  setAttr(node, "data-ready", String(counts.ready));
  setAttr(node, "data-not-ready", String(counts.notReady));
  setAttr(node, "data-terminating", String(counts.terminating));
  node.classList.toggle("empty", n === 0);
  const big = n > COMPACT_ABOVE;
  const compact = isCompact(slice, svc.key, ctx.expanded);
  node.classList.toggle("compact", compact);
  node.classList.toggle("dense", !compact && n > DENSE_AT);
  const line = part(node, "strip-line");
  line.hidden = !big;
  const strip = part(node, "strip");
  const chips = part(node, "chips");
  if (big) {
    const words = countsText(counts);
    setText(part(node, "strip-counts"), words);
    const toggle = part(node, "strip-toggle");
    toggle.dataset.slice = slice.name;
    toggle.setAttribute("aria-expanded", String(!compact));
    setText(toggle, compact ? `▾ show the ${n} chips` : "▴ compact");
    setAttr(strip, "aria-label", words);
  }
  if (compact) {
    if (chips.firstChild) chips.replaceChildren();
    strip.hidden = false;
    drawStrip(strip, eps, svc.namespace, ctx.hl, animate);
  } else {
    if (strip.firstChild) {
      strip.replaceChildren();
      delete strip.dataset.keys;
    }
    strip.hidden = true;
    reconcile(
      chips,
      eps,
      (ep) => `${ep.ip}|${ep.pod || ""}`,
      createChip,
      (chip, ep, isNew) => updateChip(chip, ep, svc.namespace, isNew || !animate, ctx.hl),
      { animate },
    );
  }
  if (n === 0) chips.dataset.emptyText = "no endpoints (placeholder slice)";
}

/**
 * The pods that match but get no traffic, one group per reason: a count, and the pods when open.
 * @param {HTMLElement} card
 * @param {ServiceView} svc
 * @param {CardContext} ctx
 * @param {boolean} animate
 */
function drawExcluded(card, svc, ctx, animate) {
  const excluded = svc.excluded || [];
  const box = part(card, "excluded-box");
  box.hidden = excluded.length === 0;
  setText(part(box, "excluded-n"), excluded.length > GROUP_OPEN_UP_TO ? `(${excluded.length} pods)` : "");
  /** @type {Map<string, Excluded[]>} */
  const byReason = new Map();
  for (const x of excluded) {
    const list = byReason.get(x.reason);
    if (list) list.push(x);
    else byReason.set(x.reason, [x]);
  }
  const reasons = [...byReason.keys()].sort(
    (a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
  reconcile(
    part(card, "excluded"),
    reasons,
    (r) => r,
    createGroup,
    (node, reason) => updateGroup(node, reason, /** @type {Excluded[]} */ (byReason.get(reason)), svc, ctx, animate),
    { animate },
  );
}

/** @param {string} reason */
function rank(reason) {
  const i = REASON_ORDER.indexOf(reason);
  return i < 0 ? REASON_ORDER.length : i;
}

/** @returns {HTMLElement} */
function createGroup() {
  return el("div", { class: "xgroup" }, [
    el("button", {
      class: "xgroup-head",
      attrs: { type: "button", "aria-expanded": "false" },
      dataset: { part: "group-head", toggle: "group" },
    }, [
      el("span", { class: "xgroup-mark", dataset: { part: "group-mark" } }),
      el("span", { class: "reason-tag", dataset: { part: "group-reason" } }),
      el("span", { class: "xgroup-count", dataset: { part: "group-count" } }),
      el("span", { class: "xgroup-why", dataset: { part: "group-why" } }),
    ]),
    el("ul", { class: "excluded-list", dataset: { part: "group-list" } }),
    el("button", { class: "linkish xgroup-more", attrs: { type: "button", hidden: "" }, dataset: { part: "group-more", toggle: "more" } }),
  ]);
}

/**
 * @param {HTMLElement} node
 * @param {string} reason
 * @param {Excluded[]} items
 * @param {ServiceView} svc
 * @param {CardContext} ctx
 * @param {boolean} animate
 */
function updateGroup(node, reason, items, svc, ctx, animate) {
  const state = ctx.groups.get(`${svc.key}|${reason}`);
  const open = state && state.open !== null ? state.open : items.length <= GROUP_OPEN_UP_TO;
  const shown = Math.min(items.length, Math.max(GROUP_PAGE, (state && state.shown) || 0));
  const words = EXCLUDED_WORDS[/** @type {keyof typeof EXCLUDED_WORDS} */ (reason)] || reason.toUpperCase();
  node.dataset.reason = reason;
  node.dataset.count = String(items.length);
  node.classList.toggle("open", open);
  const head = part(node, "group-head");
  head.dataset.reason = reason;
  head.setAttribute("aria-expanded", String(open));
  setText(part(node, "group-mark"), open ? "▾" : "▸");
  const tag = part(node, "group-reason");
  setText(tag, words);
  tag.className = `reason-tag reason-${reason}`;
  if (setText(part(node, "group-count"), `${items.length} pod${items.length === 1 ? "" : "s"}`) && animate && !open) {
    flash(part(node, "group-count"), "bump");
  }
  // the most common explanation, so a closed group still says why (and an open one says it once)
  const common = commonText(items);
  setText(part(node, "group-why"), common.text);
  node.classList.toggle("uniform", common.all);
  const list = part(node, "group-list");
  const more = part(node, "group-more");
  if (!open) {
    if (list.firstChild) list.replaceChildren();
    more.hidden = true;
    return;
  }
  reconcile(
    list,
    items.slice(0, shown),
    (x) => x.pod,
    createExcluded,
    (item, x) => updateExcluded(item, x, svc.namespace, ctx),
    { animate },
  );
  more.hidden = shown >= items.length;
  more.dataset.reason = reason;
  setText(more, `show ${Math.min(GROUP_PAGE, items.length - shown)} more of ${items.length - shown}`);
}

/** The explanation most of the group shares, and whether all do. @param {Excluded[]} items */
function commonText(items) {
  /** @type {Map<string, number>} */
  const n = new Map();
  for (const x of items) n.set(x.text, (n.get(x.text) || 0) + 1);
  let best = "";
  let most = 0;
  for (const [text, k] of n) if (k > most) [best, most] = [text, k];
  const all = most === items.length;
  return { text: all ? best : `${best} (${most} of them)`, all };
}

/** @returns {HTMLElement} */
function createExcluded() {
  return el("li", { class: "excluded-item" }, [
    el("button", { class: "excluded-pod", attrs: { type: "button" }, dataset: { part: "button" } }, [
      el("span", { class: "reason-tag", dataset: { part: "reason" } }),
      el("span", { class: "excluded-name", dataset: { part: "pod" } }),
      el("span", { class: "excluded-ip", dataset: { part: "ip" } }),
    ]),
    el("span", { class: "excluded-text", dataset: { part: "text" } }),
  ]);
}

/**
 * @param {HTMLElement} node
 * @param {Excluded} x
 * @param {string} namespace
 * @param {CardContext} ctx
 */
function updateExcluded(node, x, namespace, ctx) {
  const words = EXCLUDED_WORDS[/** @type {keyof typeof EXCLUDED_WORDS} */ (x.reason)] || x.reason.toUpperCase();
  const reason = part(node, "reason");
  setText(reason, words);
  reason.className = `reason-tag reason-${x.reason}`;
  setText(part(node, "pod"), x.pod);
  setText(part(node, "ip"), x.ip || "no IP");
  setText(part(node, "text"), x.text);
  const button = part(node, "button");
  const podKey = `${namespace}/${x.pod}`;
  setAttr(button, "data-pod-key", podKey);
  mark(button, ctx.hl.pod(podKey, x.ip));
}

/** @param {HTMLElement} card @param {ServiceView} svc */
function renderLegacy(card, svc) {
  setText(part(card, "legacy-body"), legacyLines(svc).join("\n"));
  card.classList.toggle("over-capacity", Boolean(svc.endpoints && svc.endpoints.overCapacity));
}

/**
 * The scale box: the Deployment whose pod template the Service selects, with its desired replicas
 * (the input) and how many of them are ready, as the server's DeploymentView says.
 * @param {HTMLElement} card
 * @param {ServiceView} svc
 * @param {CardContext} ctx
 */
export function updateScale(card, svc, ctx) {
  const dep = ctx.deployments[0];
  const form = /** @type {HTMLFormElement} */ (part(card, "scale"));
  form.hidden = !dep || !ctx.actions;
  if (!dep) return;
  form.dataset.deployment = dep.name;
  form.dataset.replicas = String(dep.replicas);
  form.dataset.ready = String(dep.readyReplicas);
  setText(part(card, "deployment"), dep.name);
  setText(part(card, "scale-now"), `${dep.readyReplicas || 0}/${dep.replicas} ready · replicas`);
  const input = /** @type {HTMLInputElement} */ (part(card, "scale-input"));
  if (!input.dataset.dirty && document.activeElement !== input) input.value = String(dep.replicas);
}
