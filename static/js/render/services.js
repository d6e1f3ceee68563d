// @ts-check
/** Service cards: facts, diagnosis flag, EndpointSlices with endpoint chips, left-out pods, legacy Endpoints. */

import { el, labelText, part, setAttr, setText } from "../dom.js";
import { createChip, updateChip } from "./chips.js";
import { reconcile } from "./keyed.js";
import { flash } from "./motion.js";
import { legacyLines } from "./legacy.js";

/** A slice with more endpoints than this draws compact chips (state + IP) so 250 still fit. */
const DENSE_AT = 24;

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {import("../model.js").ServiceView} ServiceView
 * @typedef {import("../model.js").PodView} PodView
 * @typedef {{
 *   onScale: (namespace: string, deployment: string, replicas: number) => Promise<{ok: boolean, message: string}>,
 *   onExplainService: (key: string) => void,
 * }} ServiceHandlers
 */

const EXCLUDED_WORDS = {
  "not-ready": "NOT READY",
  terminating: "TERMINATING",
  "no-ip": "NO IP YET",
  "missing-port": "NO SUCH PORT",
  terminal: "FINISHED",
};

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

/**
 * The Deployments whose pod template the Service selects (DeploymentView.services), by name.
 * @param {import("../model.js").Model} model
 * @param {string} serviceKey
 * @returns {import("../model.js").DeploymentView[]}
 */
export function deploymentsOf(model, serviceKey) {
  return Object.values(model.deployments || {})
    .filter((d) => (d.services || []).includes(serviceKey))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * @param {HTMLElement} root the container of the cards
 * @param {ServiceHandlers} handlers
 */
export function createServicesView(root, handlers) {
  let actionsEnabled = true;
  /** The ServiceView each card last drew. */
  /** @type {WeakMap<HTMLElement, ServiceView>} */
  const drawn = new WeakMap();

  /** @param {ServiceView} svc */
  function createCard(svc) {
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
        ]),
      ]),
      el("div", { class: "diagnosis", dataset: { part: "diagnosis" }, attrs: { hidden: "", role: "status" } }, [
        el("strong", { class: "diagnosis-head", dataset: { part: "diagnosis-head" } }),
        el("span", { class: "diagnosis-text", dataset: { part: "diagnosis-text" } }),
      ]),
      el("div", { class: "slices", dataset: { part: "slices" } }),
      el("section", { class: "excluded", dataset: { part: "excluded-box" }, attrs: { hidden: "" } }, [
        el("h3", { text: "Match the selector but get no traffic" }),
        el("ul", { class: "excluded-list", dataset: { part: "excluded" } }),
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
    const legacy = /** @type {HTMLDetailsElement} */ (part(card, "legacy"));
    legacy.addEventListener("toggle", () => {
      const svc = drawn.get(card);
      if (legacy.open && svc) renderLegacy(card, svc);
    });
    return card;
  }

  /** @param {string} label @param {string} name */
  function fact(label, name) {
    return el("div", { class: `fact fact-${name}` }, [el("dt", { text: label }), el("dd", { dataset: { part: name } })]);
  }

  /**
   * @param {HTMLElement} card
   * @param {ServiceView} svc
   * @param {Model} model
   * @param {boolean} isNew
   */
  function updateCard(card, svc, model, isNew) {
    const prev = drawn.get(card);
    drawn.set(card, svc);
    card.dataset.ns = svc.namespace;
    if (prev === svc && !isNew) return;
    setText(part(card, "name"), svc.name);
    setText(part(card, "ns"), `ns ${svc.namespace}`);
    setText(part(card, "type"), svc.type);
    setText(part(card, "cluster-ip"), clusterIPText(svc));
    setText(part(card, "selector"), svc.selector ? labelText(svc.selector) || "{} (matches nothing)" : "none (no selector)");
    setText(part(card, "ports"), portsText(svc));
    const c = svc.counts || { ready: 0, notReady: 0, terminating: 0, slices: 0 };
    updateCount(part(card, "count-ready"), c.ready, "ready");
    updateCount(part(card, "count-not-ready"), c.notReady, "not ready");
    updateCount(part(card, "count-terminating"), c.terminating, "terminating");

    // diagnosis flag
    const diag = part(card, "diagnosis");
    if (svc.diagnosis) {
      const head =
        svc.diagnosis.code === "external-name" ? "NO ENDPOINTS: a DNS alias" : "⚠ NO READY ENDPOINTS:";
      setText(part(card, "diagnosis-head"), head);
      setText(part(card, "diagnosis-text"), svc.diagnosis.text);
      diag.dataset.code = svc.diagnosis.code;
      if (diag.hidden) {
        diag.hidden = false;
        if (!isNew) flash(diag, "is-entering");
      }
      card.classList.add("has-diagnosis");
    } else {
      diag.hidden = true;
      card.classList.remove("has-diagnosis");
    }

    // slices and their chips
    reconcile(
      part(card, "slices"),
      svc.slices || [],
      (s) => s.name,
      createSlice,
      (node, slice) => updateSlice(node, slice, svc.namespace),
      { animate: !isNew },
    );

    // pods that match but get no traffic
    const excluded = svc.excluded || [];
    const box = part(card, "excluded-box");
    box.hidden = excluded.length === 0;
    reconcile(
      part(card, "excluded"),
      excluded,
      (x) => x.pod,
      createExcluded,
      (node, x) => updateExcluded(node, x, svc.namespace),
      { animate: !isNew },
    );

    const legacy = /** @type {HTMLDetailsElement} */ (part(card, "legacy"));
    if (legacy.open) renderLegacy(card, svc);
    updateScale(card, svc, model);
  }

  /** @param {HTMLElement} node @param {number} n @param {string} words */
  function updateCount(node, n, words) {
    if (setText(node, `${n} ${words}`) && node.dataset.n !== undefined) flash(node, "is-bumped");
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
      el("div", { class: "chips", dataset: { part: "chips" } }),
    ]);
  }

  /**
   * @param {HTMLElement} node
   * @param {import("../model.js").SliceView} slice
   * @param {string} namespace
   */
  function updateSlice(node, slice, namespace) {
    const eps = slice.endpoints || [];
    setText(part(node, "name"), slice.name);
    const ports = (slice.ports || []).map((p) => `${p.port}/${p.protocol}`).join(", ") || "no ports";
    const n = eps.length;
    setText(part(node, "meta"), `${slice.addressType} · ${n} endpoint${n === 1 ? "" : "s"} · ${ports}`);
    node.classList.toggle("dense", n > DENSE_AT);
    node.classList.toggle("empty", n === 0);
    const chips = part(node, "chips");
    reconcile(chips, eps, (ep) => `${ep.ip}|${ep.pod || ""}`, createChip, (chip, ep, isNew) =>
      updateChip(chip, ep, namespace, isNew),
    );
    if (n === 0) chips.dataset.emptyText = "no endpoints (placeholder slice)";
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
   * @param {import("../model.js").Excluded} x
   * @param {string} namespace
   */
  function updateExcluded(node, x, namespace) {
    const words = EXCLUDED_WORDS[/** @type {keyof typeof EXCLUDED_WORDS} */ (x.reason)] || x.reason.toUpperCase();
    const reason = part(node, "reason");
    setText(reason, words);
    reason.className = `reason-tag reason-${x.reason}`;
    setText(part(node, "pod"), x.pod);
    setText(part(node, "ip"), x.ip || "no IP");
    setText(part(node, "text"), x.text);
    setAttr(part(node, "button"), "data-pod-key", `${namespace}/${x.pod}`);
  }

  /** @param {HTMLElement} card @param {ServiceView} svc */
  function renderLegacy(card, svc) {
    const body = part(card, "legacy-body");
    const lines = legacyLines(svc);
    setText(body, lines.join("\n"));
    card.classList.toggle("over-capacity", Boolean(svc.endpoints && svc.endpoints.overCapacity));
  }

  /**
   * The scale box: the Deployment whose pod template the Service selects, with its desired replicas
   * (the input) and how many of them are ready, as the server's DeploymentView says.
   * @param {HTMLElement} card
   * @param {ServiceView} svc
   * @param {Model} model
   */
  function updateScale(card, svc, model) {
    const dep = deploymentsOf(model, svc.key)[0];
    const form = /** @type {HTMLFormElement} */ (part(card, "scale"));
    form.hidden = !dep || !actionsEnabled;
    if (!dep) return;
    form.dataset.deployment = dep.name;
    form.dataset.replicas = String(dep.replicas);
    form.dataset.ready = String(dep.readyReplicas);
    setText(part(card, "deployment"), dep.name);
    setText(part(card, "scale-now"), `${dep.readyReplicas || 0}/${dep.replicas} ready · replicas`);
    const input = /** @type {HTMLInputElement} */ (part(card, "scale-input"));
    if (!input.dataset.dirty && document.activeElement !== input) input.value = String(dep.replicas);
  }

  return {
    /**
     * Patch the cards for the services that changed (or all of them).
     * @param {Model} model
     * @param {import("../model.js").Changes} changes
     */
    render(model, changes) {
      actionsEnabled = Boolean(model.meta && model.meta.actions);
      // Services with a selector first (the ones a lesson is about), selectorless ones such as
      // default/kubernetes after them; alphabetical inside each group
      const svcs = Object.values(model.services).sort(
        (a, b) => Number(!a.selector) - Number(!b.selector) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
      );
      const touched = changes.all || changes.meta ? null : changes.services;
      const depsChanged = (changes.deployments && changes.deployments.size > 0) || false;
      reconcile(
        root,
        svcs,
        (s) => s.key,
        createCard,
        (card, svc, isNew) => {
          if (isNew || touched === null || touched.has(svc.key)) {
            updateCard(card, svc, model, isNew);
          } else if (depsChanged) {
            updateScale(card, svc, model);
          }
        },
        { animate: !changes.all },
      );
      root.dataset.count = String(svcs.length);
    },
  };
}
