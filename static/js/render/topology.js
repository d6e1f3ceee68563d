// @ts-check
/**
 * The topology view: one Service drawn as a diagram (Service → EndpointSlices → endpoints → pods on
 * their nodes, connectors styled by state), toggled from the header and kept in the URL's hash
 * (#view=topology&svc=ns/name), redrawn in the page's frame when its Service, its pods or its traffic
 * change. Sizes come from ResizeObserver; the layout is computed, never measured.
 */

import { el, setAttr, setText } from "../dom.js";
import * as frame from "../frame.js";
import { motionAllowed, spend } from "./motion.js";
import { namesService } from "./highlight.js";
import { readViewState, writeViewState } from "./search.js";
import { bounce, fly } from "./topology-flights.js";
import { FOLD_OVER, ROWS_MAX, SLICES_MAX, layoutTopology, sliceWindow } from "./topology-layout.js";
import { createScene, svgEl } from "./topology-svg.js";

/** Services offered in the picker at most (the search box finds any other). */
const PICKER_MAX = 300;
/** Requests remembered for tests and the curious. */
const FLIGHTS_KEPT = 60;
/** Width changes smaller than this do not lay the diagram out again (a scrollbar coming and going). */
const WIDTH_SLACK = 40;

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {import("../model.js").Changes} Changes
 * @typedef {import("../model.js").ServiceView} ServiceView
 * @typedef {import("../model.js").PodView} PodView
 * @typedef {import("../traffic.js").Route} TrafficRoute
 * @typedef {import("./topology-layout.js").Layout} Layout
 * @typedef {{
 *   toggle: (key: string) => void,
 *   isOn: (key: string) => boolean,
 *   hitsOf: (key: string) => Record<string, number>,
 *   tally: (key: string) => {sent: number, failed: number},
 *   onSend: (fn: (key: string, route: TrafficRoute) => void) => () => void,
 * }} TrafficControl
 * @typedef {{
 *   highlight: import("./highlight.js").HighlightState,
 *   traffic: TrafficControl,
 *   request: () => void,
 *   order: () => string[],
 *   namespace: () => string,
 * }} TopologyDeps
 * @typedef {{at: number, service: string, ip: string|null, pod: string|null, state: string, to: number[]|null, drawn: boolean}} Flight
 */

/** @param {string} key */
function nameOf(key) {
  return key.slice(key.indexOf("/") + 1);
}

/** A legend sample: a short connector in one state, and its words. @param {string} state @param {string} words */
function sample(state, words) {
  const svg = svgEl("svg", { width: "44", height: "14", viewBox: "0 0 44 14", "aria-hidden": "true" });
  svg.append(svgEl("path", { class: `tl state-${state}`, d: "M2 7 L42 7" }));
  return el("span", { class: "topo-sample", dataset: { state } }, [svg, el("span", { text: words })]);
}

/**
 * @param {HTMLElement} root the section that holds the view (#topology)
 * @param {HTMLElement} toggle the header button that shows and hides it
 * @param {TopologyDeps} deps
 */
export function createTopology(root, toggle, deps) {
  const picker = /** @type {HTMLSelectElement} */ (el("select", { dataset: { part: "topo-service" }, attrs: { "aria-label": "Service to draw" } }));
  const trafficButton = el("button", { class: "btn traffic-toggle control", text: "▶ Send traffic", attrs: { type: "button", "aria-pressed": "false" }, dataset: { part: "topo-traffic" } });
  const foldButton = el("button", { class: "btn", text: "fold all", attrs: { type: "button" }, dataset: { part: "topo-fold" } });
  const summary = el("p", { class: "topo-summary", dataset: { part: "topo-summary" } });
  const svg = /** @type {SVGSVGElement} */ (svgEl("svg", { class: "topo-svg", role: "group" }));
  const canvas = el("div", { class: "topo-canvas", dataset: { part: "topo-canvas" } }, [svg]);
  const probe = el("span", { class: "topo-probe", attrs: { "aria-hidden": "true" } });
  root.replaceChildren(
    el("div", { class: "topo-bar" }, [
      el("label", { class: "topo-pick" }, [el("span", { text: "Service" }), picker]),
      trafficButton,
      foldButton,
      el("span", { class: "topo-legend", attrs: { "aria-label": "how to read the connectors" } }, [
        sample("ready", "✓ ready: gets traffic"),
        sample("not-ready", "✕ not ready"),
        sample("terminating", "⊘ terminating"),
      ]),
    ]),
    summary,
    canvas,
    probe,
  );
  const scene = createScene(svg);

  const fromHash = readViewState(location.hash);
  let on = fromHash.view === "topology";
  /** The Service drawn; null: the page picks one. @type {string|null} */
  let selected = fromHash.svc || null;
  /** The Service drawn last (the scene is cleared when another is drawn). @type {string|null} */
  let drawnKey = null;
  let dirty = true;
  let width = 0;
  let rem = 0;
  /** Slices the user opened or folded, per Service: "svc|slice" → open. @type {Map<string, boolean>} */
  const choice = new Map();
  /** The first slice drawn, per Service (a Service of many slices is drawn a page at a time). @type {Map<string, number>} */
  const sliceFrom = new Map();
  /** Slices opened by the user, oldest first (the oldest folds when too many rows are open). @type {string[]} */
  const opened = [];
  /** Pods matching no Service, by namespace. @type {Map<string, Set<string>>} */
  const orphansByNs = new Map();
  let orphansBuilt = false;
  /** @type {{key: string, route: TrafficRoute}[]} */
  let queued = [];
  /** @type {Flight[]} */
  const flights = [];
  let hitsSig = "";
  let pickerSig = "";
  let lessonSig = "";
  /** @type {Layout|null} */
  let layout = null;
  /** @type {{podKey: string|null, ip: string|null, resolve: (node: Element|null) => void}|null} */
  let pendingReveal = null;
  let draws = 0;
  /** Whether the Service drawn now was drawn before (a first draw does not flash). */
  let drawnKeyStable = false;
  /** @type {Model|null} */
  let model = null;

  // ---- sizes: the canvas's width and the page's rem, as ResizeObserver reports them (no layout read)
  if ("ResizeObserver" in window) {
    const observer = new ResizeObserver((entries) => {
      let changed = false;
      for (const entry of entries) {
        const w = entry.contentRect.width;
        if (!w) continue; // hidden
        if (entry.target === probe) {
          if (Math.abs(w / 10 - rem) > 0.05) {
            rem = w / 10;
            changed = true;
          }
          continue;
        }
        const usable = Math.floor(w) - 4;
        // grow when there is clearly more room, shrink as soon as the diagram would not fit
        if (!width || usable < width || usable - width >= WIDTH_SLACK) {
          width = usable;
          changed = true;
        }
      }
      if (changed) {
        dirty = true;
        deps.request();
      }
    });
    observer.observe(canvas);
    observer.observe(probe);
  }

  /** @param {boolean} value @param {boolean} [write] */
  function setOn(value, write = true) {
    on = value;
    root.hidden = !on;
    document.documentElement.dataset.view = on ? "topology" : "services";
    setAttr(toggle, "aria-pressed", String(on));
    if (write) writeViewState({ view: on ? "topology" : "", ...(on && selected ? { svc: selected } : {}) });
    dirty = true;
    deps.request();
  }
  setOn(on, false);

  toggle.addEventListener("click", () => setOn(!on));
  window.addEventListener("hashchange", () => {
    const s = readViewState(location.hash);
    if (s.svc && s.svc !== selected) {
      selected = s.svc;
      dirty = true;
    }
    if ((s.view === "topology") !== on) setOn(s.view === "topology", false);
    else deps.request();
  });
  picker.addEventListener("change", () => select(picker.value, true));
  trafficButton.addEventListener("click", () => {
    if (!drawnKey) return;
    deps.traffic.toggle(drawnKey);
    showTraffic(deps.traffic.isOn(drawnKey));
    dirty = true;
    deps.request();
  });
  foldButton.addEventListener("click", () => {
    if (!drawnKey || !model) return;
    const svc = model.services[drawnKey];
    const anyOpen = svc && layout && layout.boxes.some((b) => b.kind === "slice" && b.expanded === true);
    // fold them all, or open the slices drawn, in order, as many as the row cap allows
    const all = (svc && svc.slices) || [];
    const from = sliceWindow(all.length, sliceFrom.get(drawnKey) || 0);
    let rows = 0;
    for (const slice of all.slice(from, from + SLICES_MAX)) {
      const n = (slice.endpoints || []).length;
      if (anyOpen) {
        if (n > FOLD_OVER) setChoice(drawnKey, slice.name, false);
      } else if (rows + n <= ROWS_MAX) {
        rows += n;
        if (n > FOLD_OVER) setChoice(drawnKey, slice.name, true);
      }
    }
    dirty = true;
    deps.request();
  });
  // slices and bundles open and fold; pods open their panel (the page's click handler does that)
  svg.addEventListener("click", (ev) => {
    const t = /** @type {Element|null} */ (ev.target);
    const hit = t && t.closest("[data-action]");
    const action = hit && hit.getAttribute("data-action");
    if (action && action.startsWith("slice|")) toggleSlice(action.slice(6));
    else if ((action === "page|prev" || action === "page|next") && drawnKey && model && model.services[drawnKey]) {
      const count = (model.services[drawnKey].slices || []).length;
      const at = sliceWindow(count, sliceFrom.get(drawnKey) || 0);
      sliceFrom.set(drawnKey, sliceWindow(count, at + (action === "page|next" ? SLICES_MAX : -SLICES_MAX)));
      dirty = true;
      deps.request();
    }
  });
  svg.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    const t = /** @type {Element|null} */ (ev.target);
    if (!t || !(t.hasAttribute("data-action") || t.hasAttribute("data-pod-key"))) return;
    ev.preventDefault();
    t.dispatchEvent(new MouseEvent("click", { bubbles: true }));
  });
  deps.traffic.onSend((key, route) => {
    if (!on || key !== drawnKey) return;
    queued.push({ key, route });
    if (queued.length > 20) queued.splice(0, queued.length - 20);
    deps.request();
  });

  /** @param {boolean} isOn */
  function showTraffic(isOn) {
    setAttr(trafficButton, "aria-pressed", String(isOn));
    setText(trafficButton, isOn ? "■ Stop traffic" : "▶ Send traffic");
  }

  /** @param {string} svcKey @param {string} slice @param {boolean} open */
  function setChoice(svcKey, slice, open) {
    const id = `${svcKey}|${slice}`;
    choice.set(id, open);
    const i = opened.indexOf(id);
    if (i >= 0) opened.splice(i, 1);
    if (open) opened.push(id);
  }

  /** @param {string} slice */
  function toggleSlice(slice) {
    if (!drawnKey || !model) return;
    const svc = model.services[drawnKey];
    const s = svc && (svc.slices || []).find((x) => x.name === slice);
    if (!svc || !s) return;
    // as drawn (the row cap may draw a slice folded that was asked open)
    const box = layout && layout.boxes.find((b) => b.key === `slice|${slice}`);
    const open = box && typeof box.expanded === "boolean" ? box.expanded : isExpanded(drawnKey, s);
    setChoice(drawnKey, slice, !open);
    foldOldest(svc);
    dirty = true;
    deps.request();
  }

  /** Too many rows open: fold the slices opened longest ago. @param {ServiceView} svc */
  function foldOldest(svc) {
    const size = (/** @type {string} */ name) => ((svc.slices || []).find((x) => x.name === name)?.endpoints || []).length;
    const all = svc.slices || [];
    const from = sliceWindow(all.length, sliceFrom.get(svc.key) || 0);
    let rows = 0;
    for (const s of all.slice(from, from + SLICES_MAX)) if (isExpanded(svc.key, s)) rows += (s.endpoints || []).length;
    for (const id of [...opened]) {
      if (rows <= ROWS_MAX) break;
      if (!id.startsWith(`${svc.key}|`)) continue;
      const name = id.slice(svc.key.length + 1);
      rows -= size(name);
      setChoice(svc.key, name, false);
    }
  }

  /** @param {string} svcKey @param {import("../model.js").SliceView} slice */
  function isExpanded(svcKey, slice) {
    const c = choice.get(`${svcKey}|${slice.name}`);
    return c === undefined ? (slice.endpoints || []).length <= FOLD_OVER : c;
  }

  /** @param {string} key @param {boolean} [write] */
  function select(key, write = false) {
    if (key === selected) return;
    selected = key;
    if (write) writeViewState({ svc: key });
    dirty = true;
    deps.request();
  }

  /**
   * Follow the pods matching no Service (only the pods that changed are looked at). Returns the
   * namespaces where one came, went or changed ("*": all of them).
   * @param {Model} m @param {Changes} changes @returns {Set<string>}
   */
  function trackOrphans(m, changes) {
    /** @type {Set<string>} */
    const touched = new Set();
    if (changes.all || !orphansBuilt) {
      orphansByNs.clear();
      for (const pod of Object.values(m.pods)) if (!pod.services || pod.services.length === 0) addOrphan(pod.namespace, pod.key);
      orphansBuilt = true;
      touched.add("*");
      return touched;
    }
    for (const key of changes.pods) {
      const ns = key.slice(0, key.indexOf("/"));
      const pod = m.pods[key];
      const set = orphansByNs.get(ns);
      const was = Boolean(set && set.has(key));
      if (pod && (!pod.services || pod.services.length === 0)) {
        addOrphan(ns, key);
        touched.add(ns);
      } else if (was && set) {
        set.delete(key);
        touched.add(ns);
      }
    }
    return touched;
  }
  /** @param {string} ns @param {string} key */
  function addOrphan(ns, key) {
    let set = orphansByNs.get(ns);
    if (!set) orphansByNs.set(ns, (set = new Set()));
    set.add(key);
  }

  /** The Service to draw: the chosen one, else what the lesson points at, else the first listed. @param {Model} m */
  function chooseService(m) {
    const s = m.meta && m.meta.classroom && m.meta.classroom.scenario;
    const sig = s ? `${s.name}|${s.step}` : "";
    if (sig !== lessonSig) {
      lessonSig = sig;
      // a new lesson step about a Service brings it on screen
      const names = deps.highlight.services;
      if (s && names.length) {
        const hit = Object.keys(m.services).find((k) => namesService(names, k));
        if (hit && hit !== selected) {
          selected = hit;
          dirty = true;
        }
      }
    }
    if (selected && m.services[selected]) return selected;
    const order = deps.order();
    const first = order.find((k) => m.services[k] && m.services[k].selector) || order[0] || null;
    return first;
  }

  /** The picker's options: the listed Services (at most PICKER_MAX, plus the one drawn). @param {Model} m @param {string|null} key */
  function fillPicker(m, key) {
    const order = deps.order();
    const shown = order.slice(0, PICKER_MAX);
    if (key && !shown.includes(key) && m.services[key]) shown.push(key);
    const sig = `${shown.join("\n")}|${deps.namespace()}`;
    if (sig !== pickerSig) {
      pickerSig = sig;
      const many = order.length > PICKER_MAX;
      picker.replaceChildren(
        ...shown.map((k) => el("option", { text: deps.namespace() ? nameOf(k) : k, attrs: { value: k } })),
        ...(many ? [el("option", { text: `… ${order.length - PICKER_MAX} more: find them with the search box`, attrs: { value: "", disabled: "" } })] : []),
      );
    }
    if (key && picker.value !== key) picker.value = key;
  }

  /**
   * Whether a change reaches the diagram of `key`: the Service, its pods, the pods of its namespace
   * matching no Service (pods of other Services there change nothing drawn).
   * @param {Model} m @param {Changes} changes @param {string} key @param {Set<string>} orphansTouched
   */
  function touches(m, changes, key, orphansTouched) {
    if (dirty || changes.all || changes.meta || changes.services.has(key)) return true;
    const ns = m.services[key].namespace;
    if (orphansTouched.has("*") || orphansTouched.has(ns)) return true;
    const prefix = `${ns}/`;
    for (const k of changes.pods) {
      if (!k.startsWith(prefix)) continue;
      const pod = m.pods[k];
      if (!pod || (pod.services || []).includes(key) || (pod.endpointOf || []).includes(key)) return true;
    }
    return false;
  }

  /** @param {Model} m @param {string} key */
  function draw(m, key) {
    const svc = m.services[key];
    if (key !== drawnKey) {
      scene.clear();
      drawnKey = key;
      setAttr(svg, "aria-label", `Diagram of Service ${key}: its EndpointSlices, endpoints and pods by node`);
    }
    const ns = svc.namespace;
    const orphans = [...(orphansByNs.get(ns) || [])]
      .map((k) => m.pods[k])
      .filter(Boolean)
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    const trafficOn = deps.traffic.isOn(key);
    const tally = deps.traffic.tally(key);
    layout = layoutTopology(m, svc, {
      width,
      rem,
      isExpanded: (slice) => isExpanded(key, slice),
      hits: deps.traffic.hitsOf(key),
      marked: (podKey, ip) => deps.highlight.pod(podKey, ip),
      markedService: deps.highlight.service(key),
      orphans,
      sent: trafficOn || tally.sent ? tally : null,
      sliceFrom: sliceFrom.get(key) || 0,
    });
    scene.draw(layout, draws > 0 && drawnKeyStable);
    drawnKeyStable = true;
    draws += 1;
    setText(summary, layout.summary);
    setAttr(summary, "title", layout.summary);
    root.dataset.service = key;
    root.dataset.rows = String(layout.rows);
    showTraffic(trafficOn);
    const foldable = layout.boxes.some((b) => b.kind === "slice" && b.expanded !== null && b.expanded !== undefined);
    foldButton.hidden = !foldable;
    setText(foldButton, layout.boxes.some((b) => b.kind === "slice" && b.expanded === true) ? "fold all" : "open all");
  }

  /** Requests that came since the last frame, along the connectors (within the animation budget). */
  function drawFlights() {
    const list = queued;
    queued = [];
    if (!layout) return;
    for (const { key, route } of list) {
      if (key !== drawnKey) continue;
      const ip = route.ok ? route.endpoint.ip : null;
      const way = ip ? layout.routes.get(ip) || null : null;
      const drawn = motionAllowed() && spend();
      if (drawn && way) fly(scene.flightLayer, way.points, rem * 0.55, way.podKey);
      else if (drawn && !route.ok) bounce(scene.flightLayer, layout.service, rem * 0.8);
      flights.push({
        at: performance.now(),
        service: key,
        ip,
        pod: way ? way.podKey : route.ok && route.endpoint.pod ? `${nameSpaceOf(key)}/${route.endpoint.pod}` : null,
        state: way ? way.state : route.ok ? route.endpoint.state : "failed",
        to: way ? way.points[way.points.length - 1] : null,
        drawn: Boolean(drawn && (way || !route.ok)),
      });
    }
    if (flights.length > FLIGHTS_KEPT) flights.splice(0, flights.length - FLIGHTS_KEPT);
  }

  /** @param {string} key */
  function nameSpaceOf(key) {
    return key.slice(0, key.indexOf("/"));
  }

  /** After a draw: scroll to and mark what reveal() asked for (in the next frame's read phase). */
  function finishReveal() {
    const want = pendingReveal;
    if (!want || !layout) return;
    pendingReveal = null;
    const box =
      (want.podKey && layout.boxes.find((b) => b.podKey === want.podKey && (b.kind === "pod" || b.kind === "orphan"))) ||
      (want.ip && layout.boxes.find((b) => b.ip === want.ip && b.kind === "pod")) ||
      (want.ip && layout.routes.get(want.ip) && layout.boxes.find((b) => b.key === layout?.routes.get(/** @type {string} */ (want.ip))?.box)) ||
      null;
    const node = box ? scene.box(box.key) : null;
    frame.read(() => {
      const target = node || root;
      target.scrollIntoView({ block: node ? "center" : "start", behavior: "auto" });
      if (node) {
        frame.write(() => {
          node.classList.add("is-found");
          setTimeout(() => node.classList.remove("is-found"), 4000);
        });
      }
      want.resolve(node || root);
    });
  }

  return {
    name: "topology",
    /**
     * Draw the chosen Service when it, its namespace's pods or its traffic changed (everything when
     * the view was just shown or resized); then the requests that came.
     * @param {Model} m
     * @param {Changes} changes
     */
    render(m, changes) {
      model = m;
      const orphansTouched = trackOrphans(m, changes);
      if (!on) {
        queued = [];
        return;
      }
      if (!width || !rem) return; // the observer reports the sizes before the first paint
      const key = chooseService(m);
      fillPicker(m, key);
      if (!key) {
        if (drawnKey) scene.clear();
        drawnKey = null;
        layout = null;
        setText(summary, "No Services to draw yet.");
        dirty = false;
        return;
      }
      const hits = deps.traffic.hitsOf(key);
      const sig = `${deps.traffic.isOn(key)}|${Object.values(hits).reduce((a, b) => a + b, 0)}`;
      const hitsChanged = sig !== hitsSig;
      hitsSig = sig;
      if (key !== drawnKey) drawnKeyStable = false;
      if (key !== drawnKey || hitsChanged || touches(m, changes, key, orphansTouched)) {
        dirty = false;
        draw(m, key);
      }
      drawFlights();
      finishReveal();
    },
    /**
     * Draw a Service (and in it, a pod or address: its folded slice opens), then scroll to it.
     * @param {string} key
     * @param {{podKey?: string|null, ip?: string|null}} [options]
     * @returns {Promise<Element|null>}
     */
    reveal(key, options = {}) {
      if (!model || !model.services[key]) return Promise.resolve(null);
      select(key);
      const svc = model.services[key];
      const pod = options.podKey ? nameOf(options.podKey) : null;
      let found = false;
      (svc.slices || []).forEach((slice, i) => {
        const has = (slice.endpoints || []).some((ep) => (pod && ep.pod === pod) || (options.ip && ep.ip === options.ip));
        if (!has || found) return;
        found = true;
        sliceFrom.set(key, sliceWindow((svc.slices || []).length, i));
        if (!isExpanded(key, slice)) {
          setChoice(key, slice.name, true);
          foldOldest(svc);
        }
      });
      dirty = true;
      if (pendingReveal) pendingReveal.resolve(null);
      return new Promise((resolve) => {
        pendingReveal = { podKey: options.podKey || null, ip: options.ip || null, resolve };
        deps.request();
      });
    },
    /** @param {boolean} value */
    show(value) {
      if (value !== on) setOn(value);
    },
    /** Open or fold one slice of the drawn Service. @param {string} slice @param {boolean} open */
    setExpanded(slice, open) {
      if (!drawnKey) return;
      setChoice(drawnKey, slice, open);
      if (model && model.services[drawnKey]) foldOldest(model.services[drawnKey]);
      dirty = true;
      deps.request();
    },
    get isOn() {
      return on;
    },
    /** What is drawn (for tests and the curious). */
    get state() {
      return {
        on,
        service: drawnKey,
        width,
        rem,
        draws,
        rows: layout ? layout.rows : 0,
        folded: layout ? layout.folded : 0,
        summary: layout ? layout.summary : "",
        nodes: svg.getElementsByTagName("*").length,
        flights: flights.slice(),
      };
    },
  };
}

/** @typedef {ReturnType<typeof createTopology>} TopologyView */
