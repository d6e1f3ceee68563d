// @ts-check
/** Wires the page: bootstrap snapshot → model, the stream → reducer → renderers, clicks → actions. */

import * as actions from "./actions.js";
import { createConnection } from "./connection.js";
import { part } from "./dom.js";
import { fromSnapshot, noChanges, reduce } from "./model.js";
import { createHeaderView } from "./render/header.js";
import { flyFrom, glide, measure, motionAllowed } from "./render/motion.js";
import { createOrphansView } from "./render/orphans.js";
import { createPanel } from "./render/panel.js";
import { createServicesView } from "./render/services.js";
import { createTimelineView } from "./render/timeline.js";

/** Above this many drawn pods, skip the FLIP measuring (it reads every box's position). */
const FLIP_LIMIT = 1200;

/** @type {import("./model.js").Model|null} */
let model = null;
let pending = noChanges();
let scheduled = false;
let renders = 0;
let namespace = readNamespace();

function readBootstrap() {
  const node = document.getElementById("bootstrap");
  if (!node || !node.textContent || !node.textContent.trim()) return null;
  try {
    const data = JSON.parse(node.textContent);
    return data && typeof data === "object" && data.meta ? data : null;
  } catch {
    return null;
  }
}

function readNamespace() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("ns");
  if (fromHash !== null) return fromHash;
  try {
    return localStorage.getItem("slicescope.namespace") || "";
  } catch {
    return "";
  }
}

const header = createHeaderView(/** @type {HTMLElement} */ (document.getElementById("top")), {
  onNamespace(ns) {
    namespace = ns;
    try {
      localStorage.setItem("slicescope.namespace", ns);
    } catch {
      /* private mode: fine */
    }
    history.replaceState(null, "", ns ? `#ns=${encodeURIComponent(ns)}` : location.pathname + location.search);
    applyFilter();
  },
});
const services = createServicesView(/** @type {HTMLElement} */ (document.getElementById("services")), {
  onScale: (ns, dep, n) => actions.scale(ns, dep, n),
  onExplainService: (key) => model && panel.openService(key, model),
});
const orphans = createOrphansView(/** @type {HTMLElement} */ (document.getElementById("orphans")));
const timeline = createTimelineView(/** @type {HTMLElement} */ (document.getElementById("timeline")));
const panel = createPanel(/** @type {HTMLElement} */ (document.getElementById("panel")), {
  explain: actions.explain,
  readiness: actions.readiness,
  label: actions.label,
  deletePod: actions.deletePod,
});

/** Hide what is outside the chosen namespace with one generated rule, not by touching every node. */
function applyFilter() {
  const style = /** @type {HTMLStyleElement} */ (document.getElementById("ns-filter-style"));
  if (!namespace) {
    style.textContent = "";
  } else {
    const v = CSS.escape(namespace);
    style.textContent =
      `.svc[data-ns]:not([data-ns="${v}"]), .orphan[data-ns]:not([data-ns="${v}"]),` +
      ` .tl-item[data-ns]:not([data-ns="${v}"]):not([data-ns=""]) { display: none !important; }`;
  }
  document.documentElement.dataset.namespace = namespace;
  if (model) header.setNamespace(model.meta.namespaces || [], namespace);
}

function scheduleRender() {
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    render();
  };
  // requestAnimationFrame does not run in a hidden tab; the model must still be drawn when it comes back
  if (document.hidden) setTimeout(run, 50);
  else requestAnimationFrame(run);
}

function render() {
  if (!model) return;
  const changes = pending;
  pending = noChanges();
  const podNodes = /** @type {HTMLElement[]} */ (Array.from(document.querySelectorAll("main [data-pod-key]")));
  const flip = !changes.all && motionAllowed() && podNodes.length < FLIP_LIMIT && (changes.services.size || changes.pods.size);
  const before = flip ? measure(podNodes) : new Map();
  /** @type {Map<string, DOMRect>} */
  const podPlaces = new Map();
  for (const [node, place] of before) {
    const k = node.dataset.podKey;
    if (k && !podPlaces.has(k)) podPlaces.set(k, place.rect);
  }

  header.render(model, changes, namespace);
  services.render(model, changes);
  const newOrphans = orphans.render(model, changes);
  timeline.render(model, changes);
  panel.render(model, changes);
  if (changes.all || changes.meta) {
    document.documentElement.dataset.actions = model.meta.actions ? "on" : "off";
    applyFilter();
  }

  if (flip) {
    glide(before);
    for (const node of newOrphans) {
      const from = node.dataset.podKey && podPlaces.get(node.dataset.podKey);
      if (from) flyFrom(node, from);
    }
  }
  renders += 1;
}

/** @param {import("./model.js").Changes} c */
function merge(c) {
  if (c.all) pending.all = true;
  if (c.meta) pending.meta = true;
  if (c.timeline) pending.timeline = true;
  for (const k of c.services) pending.services.add(k);
  for (const k of c.pods) pending.pods.add(k);
}

const boot = readBootstrap();
if (boot) {
  model = fromSnapshot(boot);
  pending.all = true;
  render();
}

// ?stale=SECONDS: how long a lost stream counts as "reconnecting" before the badge says STALE
const staleSeconds = Number(new URLSearchParams(location.search).get("stale"));
const connection = createConnection({
  url: "events",
  getSeq: () => (model ? model.seq : null),
  staleAfterMs: staleSeconds > 0 ? staleSeconds * 1000 : 15000,
});
connection.onState((s) => header.setLink(s));
connection.onMessage((msg) => {
  const result = reduce(model, msg);
  if (!result) {
    connection.resync(`could not apply message ${msg.seq} on top of ${model ? model.seq : "nothing"}`);
    return;
  }
  model = result.model;
  merge(result.changes);
  scheduleRender();
});
connection.start();

// any drawn pod (chip, left-out pod, orphan) opens the pod panel
document.addEventListener("click", (ev) => {
  const target = /** @type {Element|null} */ (ev.target);
  const hit = target && target.closest("main [data-pod-key]");
  if (hit && model) {
    const key = /** @type {HTMLElement} */ (hit).dataset.podKey;
    if (key) panel.openPod(key, model);
  }
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && (pending.all || pending.services.size || pending.pods.size || pending.timeline || pending.meta)) {
    scheduleRender();
  }
});

// the header's height, for the sticky side column and the panel below it
const top = /** @type {HTMLElement} */ (document.getElementById("top"));
const setTopHeight = () => document.documentElement.style.setProperty("--top-h", `${top.offsetHeight}px`);
setTopHeight();
if ("ResizeObserver" in window) new ResizeObserver(setTopHeight).observe(top);

part(document.body, "motion-toggle").addEventListener("click", (ev) => {
  const on = document.documentElement.classList.toggle("no-motion");
  /** @type {HTMLElement} */ (ev.currentTarget).setAttribute("aria-pressed", String(on));
});

/** For tests and the curious: the model the page draws, in the contract's shape. */
const api = {
  get model() {
    return model;
  },
  get seq() {
    return model ? model.seq : null;
  },
  get link() {
    return connection.status;
  },
  get linkHistory() {
    return connection.history.slice();
  },
  get renders() {
    return renders;
  },
  connection,
  panel,
};
/** @type {any} */ (window).slicescope = api;
