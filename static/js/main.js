// @ts-check
/**
 * Wires the page: the stream (a snapshot first, then deltas) → reducer → one render per frame (the top
 * of the page first, the rest as it comes near the viewport), clicks → actions.
 */

import * as actions from "./actions.js";
import * as routes from "./api.js";
import { createConnection } from "./connection.js";
import { part } from "./dom.js";
import * as frame from "./frame.js";
import { noChanges, reduce } from "./model.js";
import { token } from "./http.js";
import { createConsole } from "./render/console.js";
import { createHeaderView } from "./render/header.js";
import { createHighlight } from "./render/highlight.js";
import { createLesson, revealTarget } from "./render/lesson.js";
import { beginFrame, skippedCount } from "./render/motion.js";
import { createOrphansView } from "./render/orphans.js";
import { createPanel } from "./render/panel.js";
import { createReplay } from "./render/replay.js";
import { createSearch, writeViewState } from "./render/search.js";
import { createServicesView } from "./render/services.js";
import { createTimelineView } from "./render/timeline.js";
import { createTopology } from "./render/topology.js";
import { createTraffic } from "./render/traffic.js";
import { installShortcuts } from "./shortcuts.js";
import { installTheme } from "./theme.js";

/** Milliseconds a frame may spend drawing Services that came near the viewport (the rest waits a frame). */
const FILL_MS = 12;
/** Change → drawn latencies kept for the curious (ms). */
const LATENCIES_KEPT = 500;

/** @type {import("./model.js").Model|null} */
let model = null;
let pending = noChanges();
let scheduled = false;
let renders = 0;
let namespace = readNamespace();
/** When the oldest message not yet drawn arrived (performance.now()), or 0. */
let waitingSince = 0;
/** @type {number[]} */
const latencies = [];
let longestRender = 0;

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
    writeViewState({ ns });
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
const isReplay = () => Boolean(model && model.meta.cluster && model.meta.cluster.mode === "replay");

const highlight = createHighlight();
const servicesRoot = /** @type {HTMLElement} */ (document.getElementById("services"));
const services = createServicesView(servicesRoot, {
  onScale: (ns, dep, n) => actions.scale(ns, dep, n),
  onExplainService: (key) => model && panel.openService(key, model),
  onTraffic: (key) => traffic.toggle(key),
  highlight,
  request: () => scheduleRender(),
});
const orphans = createOrphansView(/** @type {HTMLElement} */ (document.getElementById("orphans")), {
  highlight,
  request: () => scheduleRender(),
});
const timeline = createTimelineView(/** @type {HTMLElement} */ (document.getElementById("timeline")));
const traffic = createTraffic(services, () => model);
const topology = createTopology(/** @type {HTMLElement} */ (document.getElementById("topology")), part(document.body, "view-toggle"), {
  highlight,
  traffic,
  request: () => scheduleRender(),
  order: () => services.order(),
  namespace: () => namespace,
});
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
  isReplay,
  onStep(state) {
    // a viewer's panel opens by itself when the presenter starts a lesson, a replay's when it got to one
    if (state && (isViewer() || isReplay()) && !lesson.isOpen) setLessonOpen(true);
    if (!state && isReplay() && lesson.isOpen) setLessonOpen(false);
    if (state) revealHighlighted();
  },
  // what the step names may have come (or moved) while it played
  onSettled: () => revealHighlighted(),
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

/** Bring what the lesson step names into view: a pod it names (in its Service, or among the pods matching none), else its Service. */
function revealHighlighted() {
  if (!model || topology.isOn) return; // the diagram follows the lesson's Service itself
  const target = revealTarget(model, highlight, services.order());
  if (target && target.service) services.reveal(target.service, { podKey: target.podKey, mark: false, expand: false });
  else if (target && target.podKey) {
    const sel = `#orphans [data-pod-key="${CSS.escape(target.podKey)}"]`;
    frame.read(() => document.querySelector(sel)?.scrollIntoView({ block: "nearest" }));
  }
}

function scheduleRenderAll() {
  pending.all = true;
  scheduleRender();
}

const search = createSearch(/** @type {HTMLElement} */ (document.getElementById("search")), {
  model: () => model,
  reveal: (key, options) =>
    topology.isOn ? /** @type {Promise<HTMLElement|null>} */ (topology.reveal(key, options)) : services.reveal(key, options),
  namespace: () => namespace,
  openPod: (key) => model && panel.openPod(key, model),
});

const panel = createPanel(/** @type {HTMLElement} */ (document.getElementById("panel")), {
  explain: actions.explain,
  readiness: actions.readiness,
  label: actions.label,
  deletePod: actions.deletePod,
});

/** Show one namespace: the Services list leaves the others out; one generated rule hides the rest. */
function applyFilter() {
  const style = /** @type {HTMLStyleElement} */ (document.getElementById("ns-filter-style"));
  if (!namespace) {
    style.textContent = "";
  } else {
    const v = CSS.escape(namespace);
    style.textContent =
      `.orphan[data-ns]:not([data-ns="${v}"]),` +
      ` .tl-item[data-ns]:not([data-ns="${v}"]):not([data-ns=""]) { display: none !important; }`;
  }
  const ns = namespace;
  services.setFilter("namespace", ns ? (svc) => svc.namespace === ns : null);
  document.documentElement.dataset.namespace = namespace;
  if (model) header.setNamespace(model.meta.namespaces || [], namespace);
}

function scheduleRender() {
  if (scheduled) return;
  scheduled = true;
  frame.write(() => {
    scheduled = false;
    render();
  });
}

function render() {
  if (!model) return;
  const started = performance.now();
  const changes = pending;
  pending = noChanges();
  beginFrame();
  const highlightChanged = highlight.update(model, changes);
  header.render(model, changes, namespace);
  const more = timed("services", () => services.render(model, changes, { deadline: started + FILL_MS, highlightChanged }));
  search.render(model, changes);
  timed("orphans", () => orphans.render(model, changes, highlightChanged));
  timed("timeline", () => timeline.render(model, changes));
  panel.render(model, changes);
  timed("traffic", () => traffic.render());
  timed("lesson", () => lesson.render(model, changes));
  for (const view of extraViews) timed(view.name, () => view.render(/** @type {import("./model.js").Model} */ (model), changes));
  if (changes.all || changes.meta) {
    document.documentElement.dataset.actions = model.meta.actions ? "on" : "off";
    const r = role();
    document.documentElement.dataset.role = r;
    part(document.body, "follow-tag").hidden = r !== "viewer";
    const mode = (model.meta.cluster && model.meta.cluster.mode) || "";
    document.documentElement.dataset.mode = mode;
    kubectl.setAvailable(mode === "sim" && r !== "viewer");
    replay.setMode(mode);
    if (r === "viewer" || mode === "replay") traffic.stopAll();
  }
  if (changes.all || changes.meta || changes.services.size) kubectl.suggest(model, lesson.commands);
  renders += 1;
  const now = performance.now();
  longestRender = Math.max(longestRender, now - started);
  if (waitingSince) {
    latencies.push(now - waitingSince);
    if (latencies.length > LATENCIES_KEPT) latencies.splice(0, latencies.length - LATENCIES_KEPT);
    waitingSince = 0;
  }
  // Services that came near the viewport and did not fit in this frame's time: the next frame goes on
  if (more) scheduleRender();
}

/**
 * Other views of the same model (e.g. a topology diagram): drawn in the same frame as the rest, after
 * the Services, with what is left of the frame's animation budget. Add one with slicescope.addView.
 * @typedef {{name: string, render: (model: import("./model.js").Model, changes: import("./model.js").Changes) => void}} ExtraView
 * @type {Set<ExtraView>}
 */
const extraViews = new Set();

/** The longest time each part of the render took (ms), for the curious. @type {Record<string, number>} */
const longestParts = {};
/**
 * @template T
 * @param {string} name
 * @param {() => T} fn
 * @returns {T}
 */
function timed(name, fn) {
  const t = performance.now();
  const out = fn();
  longestParts[name] = Math.max(longestParts[name] || 0, performance.now() - t);
  return out;
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

// ?stale=SECONDS: how long a lost stream counts as "reconnecting" before the badge says STALE
const staleSeconds = Number(new URLSearchParams(location.search).get("stale"));
const connection = createConnection({
  url: "events",
  getSeq: () => (model ? model.seq : null),
  staleAfterMs: staleSeconds > 0 ? staleSeconds * 1000 : 15000,
});
connection.onState((s) => header.setLink(s));
connection.onMessage((msg) => {
  // deltas change the model where it is; a frame then draws all that came since the last one
  const result = reduce(model, msg, true);
  if (!result) {
    connection.resync(`could not apply message ${msg.seq} on top of ${model ? model.seq : "nothing"}`);
    return;
  }
  model = result.model;
  merge(result.changes);
  if (!waitingSince) waitingSince = performance.now();
  scheduleRender();
});

applyFilter();
/**
 * The first view is fetched (not inlined in the page: megabytes on a big cluster; and a fetched body
 * parses in one go, where a stream message that size costs the page many long tasks). The top of the
 * page is drawn in the next frame, the rest as it comes near the viewport; the stream resumes after it.
 */
async function load() {
  /** @type {string|null} */
  let id = null;
  try {
    const res = await fetch("api/snapshot", { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    id = res.headers.get("X-Slicescope-Event-Id");
    const snap = await res.json();
    const first = model ? null : reduce(null, { type: "snapshot", data: snap });
    if (first) {
      model = first.model;
      merge(first.changes);
      scheduleRender();
    }
  } catch {
    // no snapshot: the stream sends one first
  }
  connection.start(id);
}
load();

// any drawn pod (chip, left-out pod, orphan) opens the pod panel
document.addEventListener("click", (ev) => {
  const target = /** @type {Element|null} */ (ev.target);
  const hit = target && target.closest("main [data-pod-key]");
  if (hit && model) {
    const key = /** @type {HTMLElement} */ (hit).dataset.podKey;
    if (key) panel.openPod(key, model, /** @type {HTMLElement} */ (hit));
  }
});

// the header's height, for the sticky side column and the panel below it (from the observer: no layout read)
const top = /** @type {HTMLElement} */ (document.getElementById("top"));
if ("ResizeObserver" in window) {
  new ResizeObserver((entries) => {
    const box = entries[entries.length - 1].borderBoxSize;
    const h = box && box[0] ? box[0].blockSize : entries[entries.length - 1].contentRect.height;
    document.documentElement.style.setProperty("--top-h", `${Math.round(h)}px`);
  }).observe(top);
}

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
  search,
  traffic,
  /** The topology diagram: isOn, show(on), reveal(key, {podKey, ip}), setExpanded(slice, open), state. */
  topology,
  /** The Services view: reveal(key, {expand, podKey, ip}), drawn(), order(), onDrawn(fn), setFilter(name, fn). */
  services,
  frame: frame.frame,
  /** Draw another view of the model every frame (it gets everything once at once). @param {ExtraView} view */
  addView(view) {
    extraViews.add(view);
    pending.all = true;
    scheduleRender();
    return () => extraViews.delete(view);
  },
  /** How quickly changes are drawn: ms from a message's arrival to the end of the render that drew it. */
  get perf() {
    return {
      latencies: latencies.slice(),
      longestRender,
      longestParts: { ...longestParts },
      renders,
      skippedAnimations: skippedCount(),
      services: services.stats,
      nodes: document.getElementsByTagName("*").length,
    };
  },
  lesson,
  replay,
  get role() {
    return role();
  },
};
/** @type {any} */ (window).slicescope = api;
api.addView(topology);
