// @ts-check
/** Wires the page: bootstrap snapshot → model, the stream → reducer → renderers, clicks → actions. */

import * as actions from "./actions.js";
import * as routes from "./api.js";
import { createConnection } from "./connection.js";
import { part } from "./dom.js";
import { fromSnapshot, noChanges, reduce } from "./model.js";
import { token } from "./http.js";
import { createConsole } from "./render/console.js";
import { createHeaderView } from "./render/header.js";
import { applyHighlight } from "./render/highlight.js";
import { createLesson } from "./render/lesson.js";
import { flyFrom, glide, measure, motionAllowed } from "./render/motion.js";
import { createOrphansView } from "./render/orphans.js";
import { createPanel } from "./render/panel.js";
import { createReplay } from "./render/replay.js";
import { createServicesView } from "./render/services.js";
import { createTimelineView } from "./render/timeline.js";
import { createTraffic } from "./render/traffic.js";
import { installShortcuts } from "./shortcuts.js";
import { installTheme } from "./theme.js";

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
installTheme();

/**
 * "viewer" when the server presents (--present) and this page has no token: it follows, it does not steer;
 * "presenter" with the token; "local" when nobody presents.
 * @returns {"viewer"|"presenter"|"local"}
 */
function role() {
  const classroom = model && model.meta && model.meta.classroom;
  if (!classroom || !classroom.presenting) return "local";
  return token() ? "presenter" : "viewer";
}
const isViewer = () => role() === "viewer";

const servicesRoot = /** @type {HTMLElement} */ (document.getElementById("services"));
const services = createServicesView(servicesRoot, {
  onScale: (ns, dep, n) => actions.scale(ns, dep, n),
  onExplainService: (key) => model && panel.openService(key, model),
});
const orphans = createOrphansView(/** @type {HTMLElement} */ (document.getElementById("orphans")));
const timeline = createTimelineView(/** @type {HTMLElement} */ (document.getElementById("timeline")));
const traffic = createTraffic(servicesRoot, () => model);
const lessonRoot = /** @type {HTMLElement} */ (document.getElementById("lesson"));
const lessonToggle = part(document.body, "lesson-toggle");
const lesson = createLesson(lessonRoot, {
  list: routes.scenarios,
  start: routes.startScenario,
  next: routes.nextStep,
  back: routes.backStep,
  restart: routes.restartScenario,
  stop: routes.stopScenario,
  isViewer,
  onStep(state) {
    // a viewer's panel opens by itself when the presenter starts a lesson
    if (state && isViewer() && !lesson.isOpen) setLessonOpen(true);
    if (state) requestAnimationFrame(() => showHighlighted(true));
  },
});
/** @param {boolean} open */
function setLessonOpen(open) {
  if (open) lesson.open();
  else lesson.close();
  lessonToggle.setAttribute("aria-pressed", String(open));
  if (model) scheduleRenderAll();
}
lessonToggle.addEventListener("click", () => setLessonOpen(!lesson.isOpen));
part(lessonRoot, "hide").addEventListener("click", () => setLessonOpen(false));
installShortcuts({
  enabled: () => Boolean(lesson.state) && !isViewer(),
  run: (cmd) => lesson.command(cmd),
});

const consoleRoot = /** @type {HTMLElement} */ (document.getElementById("console"));
const kubectl = createConsole(consoleRoot, { run: routes.consoleRun });
const consoleToggle = part(document.body, "console-toggle");
consoleToggle.addEventListener("click", () => {
  kubectl.toggle();
  consoleToggle.setAttribute("aria-pressed", String(kubectl.isOpen));
});
part(consoleRoot, "close").addEventListener("click", () => {
  kubectl.toggle();
  consoleToggle.setAttribute("aria-pressed", "false");
});

const replay = createReplay(part(document.body, "replay"), part(document.body, "record-box"), {
  replayState: routes.replayState,
  play: routes.replayPlay,
  pause: routes.replayPause,
  speed: routes.replaySpeed,
  seek: routes.replaySeek,
  recordState: routes.recordState,
  recordStart: () => routes.recordStart(),
  recordStop: routes.recordStop,
});

/** Mark what the current step names; on a new step, bring the first marked thing into view. @param {boolean} scroll */
function showHighlighted(scroll) {
  const s = model && model.meta && model.meta.classroom && model.meta.classroom.scenario;
  const hl = s && s.highlight ? { ...s.highlight, pods: [...(s.highlight.pods || [])] } : null;
  // a selector the step names marks every pod it selects (e.g. four pods that no Service selects yet)
  if (hl && model && Array.isArray(hl.selectors) && hl.selectors.length) {
    for (const pod of Object.values(model.pods)) {
      if (pod.terminating) continue;
      const labels = pod.labels || {};
      if (hl.selectors.some((sel) => Object.entries(sel).every(([k, v]) => labels[k] === v))) hl.pods.push(pod.key);
    }
  }
  const marked = applyHighlight(hl);
  if (!scroll || marked.length === 0) return;
  // in the services column (the side column is sticky: always in sight), a pod the step names is the
  // thing to look at; else its Service
  const inMain = marked.filter((n) => !n.closest(".side-col"));
  const target = inMain.find((n) => !n.classList.contains("svc")) || inMain[0];
  if (target) target.scrollIntoView({ block: target.classList.contains("svc") ? "start" : "center", behavior: "auto" });
}

function scheduleRenderAll() {
  pending.all = true;
  scheduleRender();
}

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
  traffic.render();
  lesson.render(model, changes);
  showHighlighted(false);
  if (changes.all || changes.meta) {
    document.documentElement.dataset.actions = model.meta.actions ? "on" : "off";
    const r = role();
    document.documentElement.dataset.role = r;
    part(document.body, "follow-tag").hidden = r !== "viewer";
    const mode = (model.meta.cluster && model.meta.cluster.mode) || "";
    document.documentElement.dataset.mode = mode;
    kubectl.setAvailable(mode === "sim" && r !== "viewer");
    replay.setMode(mode);
    if (r === "viewer") traffic.stopAll();
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
  for (const k of c.deployments) pending.deployments.add(k);
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
  const p = pending;
  if (!document.hidden && (p.all || p.services.size || p.pods.size || p.deployments.size || p.timeline || p.meta)) {
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
  traffic,
  lesson,
  replay,
  get role() {
    return role();
  },
};
/** @type {any} */ (window).slicescope = api;
