// @ts-check
/** The side panel: one pod's details, why it is (not) an endpoint, and the actions; or a Service's explanation. */

import { el, labelText, part, setText } from "../dom.js";

/**
 * @typedef {{
 *   explain: (kind: "pod"|"service", namespace: string, name: string) => Promise<any>,
 *   readiness: (namespace: string, pod: string, passing: boolean) => Promise<{ok: boolean, message: string}>,
 *   label: (namespace: string, pod: string, labels: Record<string, string|null>) => Promise<{ok: boolean, message: string}>,
 *   deletePod: (namespace: string, pod: string) => Promise<{ok: boolean, message: string}>,
 * }} PanelHandlers
 */

/**
 * Where the panel opens: over the side column (the lesson, or the pods matching no Service and the
 * timeline), so the Services' chips stay in sight; over the Services when what was clicked is in
 * the side column itself. No layout is read.
 * @param {HTMLElement|undefined} from
 * @returns {"left"|"right"}
 */
export function sideFor(from) {
  const lessonLayout = document.documentElement.classList.contains("lesson-open");
  return from && !lessonLayout && from.closest(".side-col") ? "left" : "right";
}

/**
 * @param {HTMLElement} root the <aside>
 * @param {PanelHandlers} handlers
 */
export function createPanel(root, handlers) {
  /** @type {{kind: "pod"|"service", key: string}|null} */
  let open = null;
  let actionsEnabled = false;
  let explainToken = 0;
  /** @type {import("../model.js").Model|null} */
  let lastModel = null;

  const body = part(root, "body");
  part(root, "close").addEventListener("click", close);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && open) close();
  });

  function close() {
    open = null;
    root.hidden = true;
    body.replaceChildren();
    document.documentElement.classList.remove("panel-open");
  }

  /** @param {string} key */
  function parseKey(key) {
    const i = key.indexOf("/");
    return { ns: key.slice(0, i), name: key.slice(i + 1) };
  }

  /** @param {"pod"|"service"} kind @param {string} key @param {import("../model.js").Model} model */
  function show(kind, key, model) {
    open = { kind, key };
    root.hidden = false;
    root.dataset.kind = kind;
    document.documentElement.classList.add("panel-open");
    body.replaceChildren(kind === "pod" ? buildPod() : buildService());
    lastModel = model;
    refresh(model, true);
    loadExplain();
    const closeBtn = /** @type {HTMLElement} */ (part(root, "close"));
    closeBtn.focus({ preventScroll: true });
  }

  function buildPod() {
    const relabelInput = el("input", {
      class: "relabel-input",
      dataset: { part: "relabel-value" },
      attrs: { type: "text", spellcheck: "false", autocomplete: "off", "aria-label": "new value of the app label" },
    });
    return el("div", { class: "panel-pod" }, [
      el("p", { class: "panel-kind", text: "Pod" }),
      el("h2", { class: "panel-title", dataset: { part: "title" } }),
      el("p", { class: "panel-state", dataset: { part: "state" } }),
      el("dl", { class: "panel-facts", dataset: { part: "facts" } }),
      el("section", { class: "panel-explain" }, [
        el("h3", { text: "Why" }),
        el("div", { class: "explain-body", dataset: { part: "explain" }, attrs: { "aria-live": "polite" } }),
      ]),
      el("section", { class: "panel-actions", dataset: { part: "actions" } }, [
        el("h3", { text: "Try it" }),
        el("div", { class: "action-row" }, [
          el("button", {
            class: "btn btn-warn",
            text: "Make readiness fail",
            attrs: { type: "button" },
            dataset: { part: "fail", action: "readiness-fail" },
          }),
          el("button", {
            class: "btn",
            text: "Make readiness pass",
            attrs: { type: "button" },
            dataset: { part: "pass", action: "readiness-pass" },
          }),
        ]),
        el("form", { class: "action-row relabel", dataset: { part: "relabel" } }, [
          el("label", {}, [el("span", { text: "Relabel  app=" }), relabelInput]),
          el("button", { class: "btn", text: "Relabel", attrs: { type: "submit" }, dataset: { action: "relabel" } }),
        ]),
        el("div", { class: "action-row" }, [
          el("button", {
            class: "btn btn-danger",
            text: "Delete pod",
            attrs: { type: "button" },
            dataset: { part: "delete", action: "delete" },
          }),
        ]),
        el("p", { class: "action-msg", dataset: { part: "msg" }, attrs: { "aria-live": "polite" } }),
      ]),
    ]);
  }

  function buildService() {
    return el("div", { class: "panel-service" }, [
      el("p", { class: "panel-kind", text: "Service" }),
      el("h2", { class: "panel-title", dataset: { part: "title" } }),
      el("p", { class: "panel-state", dataset: { part: "state" } }),
      el("section", { class: "panel-explain" }, [
        el("h3", { text: "Why" }),
        el("div", { class: "explain-body", dataset: { part: "explain" }, attrs: { "aria-live": "polite" } }),
      ]),
    ]);
  }

  /** Wire the pod action buttons once per open. */
  function wirePodActions() {
    const msg = part(body, "msg");
    /** @param {Promise<{ok: boolean, message: string}>} p @param {string} doing */
    const run = async (p, doing) => {
      msg.textContent = `${doing}…`;
      msg.dataset.state = "busy";
      const r = await p;
      msg.textContent = r.ok ? `${doing}: done` : `${doing} failed: ${r.message}`;
      msg.dataset.state = r.ok ? "ok" : "error";
      if (r.ok) setTimeout(loadExplain, 400);
    };
    const current = () => (open ? parseKey(open.key) : null);
    part(body, "fail").addEventListener("click", () => {
      const k = current();
      if (k) run(handlers.readiness(k.ns, k.name, false), "readiness probe set to fail");
    });
    part(body, "pass").addEventListener("click", () => {
      const k = current();
      if (k) run(handlers.readiness(k.ns, k.name, true), "readiness probe set to pass");
    });
    part(body, "delete").addEventListener("click", () => {
      const k = current();
      if (k) run(handlers.deletePod(k.ns, k.name), "delete");
    });
    const form = /** @type {HTMLFormElement} */ (part(body, "relabel"));
    const input = /** @type {HTMLInputElement} */ (part(body, "relabel-value"));
    input.addEventListener("input", () => (input.dataset.dirty = "1"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const k = current();
      const value = input.value.trim();
      if (!k) return;
      run(handlers.label(k.ns, k.name, { app: value === "" ? null : value }), value ? `relabel app=${value}` : "remove label app");
      delete input.dataset.dirty;
    });
  }

  /** @param {import("../model.js").Model} model @param {boolean} first */
  function refresh(model, first) {
    if (!open) return;
    actionsEnabled = Boolean(model.meta && model.meta.actions);
    if (open.kind === "pod") refreshPod(model, first);
    else refreshService(model);
  }

  /** @param {import("../model.js").Model} model @param {boolean} first */
  function refreshPod(model, first) {
    if (!open) return;
    const pod = model.pods[open.key];
    const { ns, name } = parseKey(open.key);
    setText(part(body, "title"), name);
    const state = part(body, "state");
    const actions = part(body, "actions");
    if (first) wirePodActions();
    if (!pod) {
      state.dataset.state = "gone";
      setText(state, "GONE: this pod no longer exists");
      part(body, "facts").replaceChildren(fact("namespace", ns));
      actions.hidden = true;
      return;
    }
    const s = pod.terminating ? "terminating" : pod.ready ? "ready" : "not-ready";
    state.dataset.state = s;
    setText(
      state,
      `${s === "ready" ? "✓ READY" : s === "terminating" ? "⊘ TERMINATING" : "✕ NOT READY"} · ${pod.status} · ${pod.readyText}` +
        (pod.notReadyReason ? ` · ${pod.notReadyReason}` : ""),
    );
    part(body, "facts").replaceChildren(
      fact("namespace", pod.namespace),
      fact("IP", pod.ip || "none yet"),
      fact("node", pod.node || "not scheduled"),
      fact("phase", pod.phase),
      fact("labels", labelText(pod.labels) || "none"),
      fact("owner", pod.owner ? `${pod.owner.kind} ${pod.owner.name}` : "none (orphan)"),
      fact("selected by", (pod.services || []).join(", ") || "no Service"),
      fact("endpoint of", (pod.endpointOf || []).join(", ") || "no Service"),
      fact("created", pod.created || "?"),
    );
    actions.hidden = !actionsEnabled;
    // Only the simulated cluster has a readiness switch; a real cluster's probes are its own.
    const simulated = Boolean(model.meta && model.meta.cluster && model.meta.cluster.mode === "sim");
    part(body, "fail").hidden = !simulated;
    part(body, "pass").hidden = !simulated;
    const input = /** @type {HTMLInputElement} */ (part(body, "relabel-value"));
    if (!input.dataset.dirty && document.activeElement !== input) input.value = (pod.labels && pod.labels.app) || "";
    part(body, "fail").toggleAttribute("disabled", pod.terminating);
    part(body, "pass").toggleAttribute("disabled", pod.terminating);
  }

  /** @param {import("../model.js").Model} model */
  function refreshService(model) {
    if (!open) return;
    const svc = model.services[open.key];
    setText(part(body, "title"), svc ? svc.name : parseKey(open.key).name);
    const state = part(body, "state");
    if (!svc) {
      setText(state, "GONE: this Service no longer exists");
      return;
    }
    const c = svc.counts;
    setText(state, `${c.ready} ready · ${c.notReady} not ready · ${c.terminating} terminating · ${c.slices} slice(s)`);
  }

  /** @param {string} label @param {string} value */
  function fact(label, value) {
    return el("div", { class: "fact" }, [el("dt", { text: label }), el("dd", { text: value })]);
  }

  async function loadExplain() {
    if (!open) return;
    const token = ++explainToken;
    const target = part(body, "explain");
    const { ns, name } = parseKey(open.key);
    target.dataset.state = "loading";
    if (!target.firstChild) target.append(el("p", { class: "muted", text: "asking the server…" }));
    try {
      const data = await handlers.explain(open.kind, ns, name);
      if (token !== explainToken) return;
      target.replaceChildren(...explanationNodes(data));
      target.dataset.state = "ok";
    } catch (err) {
      if (token !== explainToken) return;
      target.replaceChildren(el("p", { class: "muted", text: `no explanation (${String(err)})` }));
      target.dataset.state = "error";
    }
  }

  return {
    /**
     * @param {string} podKey @param {import("../model.js").Model} model
     * @param {HTMLElement} [from] what was clicked: the panel opens over the other column, never over it
     */
    openPod(podKey, model, from) {
      root.dataset.side = sideFor(from);
      show("pod", podKey, model);
    },
    /** @param {string} key @param {import("../model.js").Model} model */
    openService(key, model) {
      root.dataset.side = "right";
      show("service", key, model);
    },
    /** @param {import("../model.js").Model} model @param {{all: boolean, pods: Set<string>, services: Set<string>, meta: boolean}} changes */
    render(model, changes) {
      lastModel = model;
      if (!open) return;
      const touched =
        changes.all ||
        changes.meta ||
        (open.kind === "pod" ? changes.pods.has(open.key) : changes.services.has(open.key));
      if (!touched) return;
      refresh(model, false);
      // the explanation follows the pod: ask again when it changed (debounced by the token)
      clearTimeout(refetch);
      refetch = setTimeout(loadExplain, 250);
    },
    close,
    get current() {
      return open;
    },
    get model() {
      return lastModel;
    },
  };
}

/** @type {ReturnType<typeof setTimeout>|undefined} */
let refetch;

/**
 * Turn whatever api/explain answered into readable nodes: a string, {text|summary}, lists of reasons or
 * checks ({text, ok}), or plain key/values as a last resort.
 * @param {any} data
 * @returns {Node[]}
 */
export function explanationNodes(data) {
  if (data === null || data === undefined) return [el("p", { text: "nothing to explain" })];
  if (data && typeof data === "object" && data.pod && Array.isArray(data.services)) return podExplanation(data);
  if (data && typeof data === "object" && typeof data.service === "string" && Array.isArray(data.pods)) {
    return serviceExplanation(data);
  }
  if (typeof data === "string") return data.split(/\n{2,}/).map((t) => el("p", { text: t }));
  if (Array.isArray(data)) return [listOf(data)];
  /** @type {Node[]} */
  const out = [];
  for (const k of ["headline", "summary", "verdict", "text", "why"]) {
    if (typeof data[k] === "string" && data[k]) out.push(el("p", { class: k === "text" ? "" : "explain-lead", text: data[k] }));
  }
  for (const k of ["checks", "steps", "reasons", "lines", "facts", "items", "details"]) {
    if (Array.isArray(data[k]) && data[k].length) out.push(listOf(data[k]));
  }
  for (const k of ["hint", "fix", "try", "command", "kubectl"]) {
    if (typeof data[k] === "string" && data[k]) out.push(el("p", { class: "explain-hint", text: `${k}: ${data[k]}` }));
    if (Array.isArray(data[k])) out.push(listOf(data[k]));
  }
  if (out.length === 0) {
    const dl = el("dl", { class: "panel-facts" });
    for (const [k, v] of Object.entries(data)) {
      dl.append(el("div", { class: "fact" }, [el("dt", { text: k }), el("dd", { text: typeof v === "string" ? v : JSON.stringify(v) })]));
    }
    out.push(dl);
  }
  return out;
}

/** @param {any[]} items */
function listOf(items) {
  return el(
    "ul",
    { class: "explain-list" },
    items.map((item) => {
      if (typeof item === "string") return el("li", { text: item });
      if (item && typeof item === "object") {
        const ok = item.ok ?? item.passed ?? item.pass ?? item.met;
        const text = item.text ?? item.message ?? item.detail ?? item.label ?? JSON.stringify(item);
        const li = el("li", { class: ok === true ? "ok" : ok === false ? "bad" : "" }, [
          ok === true ? el("span", { class: "mark", text: "✓ " }) : ok === false ? el("span", { class: "mark", text: "✕ " }) : null,
          el("span", { text: String(text) }),
        ]);
        return li;
      }
      return el("li", { text: String(item) });
    }),
  );
}

const VERDICT_WORDS = { ready: "✓ READY endpoint", "not-ready": "✕ NOT READY endpoint", terminating: "⊘ TERMINATING endpoint" };

/** @param {{endpoint: boolean, state: string|null}} v */
function verdictWords(v) {
  if (!v.endpoint) return "not an endpoint";
  return VERDICT_WORDS[/** @type {keyof typeof VERDICT_WORDS} */ (v.state)] || `endpoint (${v.state})`;
}

/**
 * api/explain/pod: {pod, services: [{service, endpoint, state, reasons}]}
 * @param {{pod: any, services: {service: string, endpoint: boolean, state: string|null, reasons: string[]}[]}} data
 * @returns {Node[]}
 */
function podExplanation(data) {
  if (data.services.length === 0) {
    return [el("p", { class: "explain-lead", text: "No Service in this namespace selects this pod: its labels match no selector." })];
  }
  return data.services.map((v) =>
    el("div", { class: "verdict", dataset: { state: v.endpoint ? v.state || "" : "none" } }, [
      el("p", { class: "explain-lead" }, [
        el("span", { text: `Service ${v.service}: ` }),
        el("span", { class: "verdict-word", text: verdictWords(v) }),
      ]),
      listOf(v.reasons || []),
    ]),
  );
}

/**
 * api/explain/service: {service, readyCount, diagnosis, pods: [{pod, ip, matches, endpoint, state, reasons}]}
 * @param {{service: string, readyCount: number, diagnosis: {text: string}|null,
 *   pods: {pod: string, ip: string|null, matches: boolean, endpoint: boolean, state: string|null, reasons: string[]}[]}} data
 * @returns {Node[]}
 */
function serviceExplanation(data) {
  /** @type {Node[]} */
  const out = [
    el("p", {
      class: "explain-lead",
      text: `${data.readyCount} ready endpoint${data.readyCount === 1 ? "" : "s"}.${data.diagnosis ? ` ${data.diagnosis.text}` : ""}`,
    }),
  ];
  if (data.pods.length === 0) out.push(el("p", { text: "No pod is selected or listed." }));
  if (data.pods.length <= EXPLAIN_ALL_UP_TO) {
    for (const p of data.pods) out.push(podVerdict(p));
    return out;
  }
  // a big Service: one group per verdict (the ones that get no traffic first), a few pods of each
  /** @type {Map<string, typeof data.pods>} */
  const groups = new Map();
  for (const p of data.pods) {
    const key = `${p.matches ? "matches" : "does not match"}, ${verdictWords(p)}`;
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  const ordered = [...groups.entries()].sort(
    ([, a], [, b]) => Number(a[0].state === "ready" && a[0].endpoint) - Number(b[0].state === "ready" && b[0].endpoint) || b.length - a.length,
  );
  for (const [words, pods] of ordered) {
    out.push(
      el("h4", { class: "verdict-group", dataset: { count: String(pods.length) } }, [
        el("span", { class: "xgroup-count", text: `${pods.length} pod${pods.length === 1 ? "" : "s"}` }),
        el("span", { text: ` ${words}` }),
      ]),
    );
    for (const p of pods.slice(0, EXPLAIN_PER_GROUP)) out.push(podVerdict(p));
    if (pods.length > EXPLAIN_PER_GROUP) {
      out.push(el("p", { class: "muted", text: `… and ${pods.length - EXPLAIN_PER_GROUP} more with the same verdict` }));
    }
  }
  return out;
}

/** Pods a Service's explanation lists one by one; past this, grouped by verdict. */
const EXPLAIN_ALL_UP_TO = 30;
/** Pods shown per verdict in a grouped explanation. */
const EXPLAIN_PER_GROUP = 5;

/** @param {{pod: string, ip: string|null, matches: boolean, endpoint: boolean, state: string|null, reasons: string[]}} p */
function podVerdict(p) {
  return el("div", { class: "verdict", dataset: { state: p.endpoint ? p.state || "" : "none" } }, [
    el("p", { class: "explain-lead" }, [
      el("span", { class: "mono", text: `${p.pod} ${p.ip || "(no IP)"}: ` }),
      el("span", { class: "verdict-word", text: `${p.matches ? "matches" : "does not match"}, ${verdictWords(p)}` }),
    ]),
    listOf(p.reasons || []),
  ]);
}
