// @ts-check
/**
 * Find things: a search box for a pod name, an IP, a Service or a label (key=value) that scrolls to
 * what it finds and opens the slice holding it; the URL's hash keeps namespace, search and selected
 * Service (#ns=…&q=…&svc=…), and the view (view=topology), so a view can be bookmarked and shared.
 * Old #ns= links keep working.
 */

import { el, part, setAttr, setText } from "../dom.js";
import * as frame from "../frame.js";

/** Matches listed under the box. */
const SHOWN = 8;
/** Pause after a key press before searching (a search scans every pod). */
const TYPING_MS = 120;
/** How long a Service named in the URL is waited for (a real cluster may still be listing). */
const RESTORE_WAIT_MS = 60000;
/** Until then, at most one try this often (a try scans every pod). */
const RESTORE_EVERY_MS = 400;
/** Matches a restore looks through for the pod of the Service the URL names. */
const RESTORE_LOOKS_AT = 500;

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {import("../model.js").PodView} PodView
 * @typedef {import("../model.js").ServiceView} ServiceView
 * @typedef {{kind: "service"|"pod", key: string, namespace: string, title: string, detail: string,
 *   service: string|null, podKey: string|null, ip: string|null, rank: number}} Hit
 * @typedef {{hits: Hit[], total: number, elsewhere: number}} Found
 * @typedef {{ns: string|null, q: string, svc: string, view: string}} ViewState
 * @typedef {{
 *   model: () => Model|null,
 *   reveal: (key: string, options?: import("./services.js").RevealOptions) => Promise<HTMLElement|null>,
 *   namespace: () => string,
 *   openPod?: (podKey: string) => void,
 * }} SearchDeps
 */

// ------------------------------------------------------------------------------------------ URL state

/**
 * The view state a URL hash holds; `ns` is null when the hash does not say (then the page's own
 * choice stands).
 * @param {string} hash location.hash, with or without the "#"
 * @returns {ViewState}
 */
export function readViewState(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  return { ns: params.get("ns"), q: params.get("q") || "", svc: params.get("svc") || "", view: params.get("view") || "" };
}

/**
 * The hash for a view state, keeping any other parameters of `hash`; empty values are left out.
 * @param {string} hash the current hash
 * @param {Partial<ViewState>} patch
 * @returns {string} "" or "#…"
 */
export function viewStateHash(hash, patch) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null || v === "") params.delete(k);
    else params.set(k, v);
  }
  // namespace first, as old links had it; then the search
  const order = ["ns", "q", "svc", "view"];
  const entries = [...params.entries()].sort((a, b) => rankParam(a[0], order) - rankParam(b[0], order));
  const text = new URLSearchParams(entries).toString();
  return text ? `#${text}` : "";
}

/** @param {string} name @param {string[]} order */
function rankParam(name, order) {
  const i = order.indexOf(name);
  return i < 0 ? order.length : i;
}

/**
 * Put part of the view state into the address bar without a new history entry.
 * @param {Partial<ViewState>} patch
 */
export function writeViewState(patch) {
  const hash = viewStateHash(location.hash, patch);
  if (hash === location.hash || (!hash && !location.hash)) return;
  history.replaceState(history.state, "", hash || location.pathname + location.search);
}

// ------------------------------------------------------------------------------------------ matching

const IP_LIKE = /^(\d{1,3}\.){1,3}\d{0,3}$|^[0-9a-f]*:[0-9a-f:]*$/i;

/** Addresses in numeric order (10.0.0.9 before 10.0.0.10); IPv6 as text. @param {string|null} a @param {string|null} b */
function compareIPs(a, b) {
  const pa = (a || "").split(".");
  const pb = (b || "").split(".");
  if (pa.length === 4 && pb.length === 4) {
    for (let i = 0; i < 4; i++) {
      const d = Number(pa[i]) - Number(pb[i]);
      if (d) return d;
    }
    return 0;
  }
  return (a || "") < (b || "") ? -1 : (a || "") > (b || "") ? 1 : 0;
}

/** 0: equal, 1: starts with, 2: contains, -1: no. @param {string} text @param {string} q */
function closeness(text, q) {
  if (!text) return -1;
  const t = text.toLowerCase();
  if (t === q) return 0;
  if (t.startsWith(q)) return 1;
  return t.includes(q) ? 2 : -1;
}

/** @param {PodView} pod */
function homeOf(pod) {
  return (pod.endpointOf && pod.endpointOf[0]) || (pod.services && pod.services[0]) || null;
}

/** @param {string} key */
function nameOf(key) {
  return key.slice(key.indexOf("/") + 1);
}

/** @param {PodView} pod @param {number} rank @param {string} why @returns {Hit} */
function podHit(pod, rank, why) {
  const home = homeOf(pod);
  const where = home ? `in ${nameOf(home)}` : "matches no Service";
  return {
    kind: "pod",
    key: pod.key,
    namespace: pod.namespace,
    title: pod.name,
    detail: [pod.ip || "no IP", why, where, pod.namespace].filter(Boolean).join(" · "),
    service: home,
    podKey: pod.key,
    ip: pod.ip,
    rank,
  };
}

/** @param {ServiceView} svc @param {number} rank @param {string} why @returns {Hit} */
function serviceHit(svc, rank, why) {
  const c = svc.counts || { ready: 0, notReady: 0, terminating: 0 };
  return {
    kind: "service",
    key: svc.key,
    namespace: svc.namespace,
    title: svc.name,
    detail: [why, `${c.ready} ready`, svc.namespace].filter(Boolean).join(" · "),
    service: svc.key,
    podKey: null,
    ip: null,
    rank,
  };
}

/**
 * Everything the query names in the model: Services (name, ClusterIP, a selector with key=value),
 * pods (name, IP, a label key=value), best first. Pure.
 * @param {Model} model
 * @param {string} query
 * @param {string} namespace only this namespace ("" for all); the rest is counted in `elsewhere`
 * @param {number} [limit]
 * @returns {Found}
 */
export function findHits(model, query, namespace, limit = SHOWN) {
  const q = query.trim().toLowerCase();
  /** @type {Hit[]} */
  const all = [];
  if (!q) return { hits: [], total: 0, elsewhere: 0 };
  const eq = q.indexOf("=");
  if (eq > 0) {
    // a label: the Services selecting it, the pods carrying it
    const k = q.slice(0, eq).trim();
    const v = q.slice(eq + 1).trim();
    const has = (/** @type {Record<string,string>|null|undefined} */ labels) => {
      if (!labels) return false;
      for (const [lk, lv] of Object.entries(labels)) {
        if (lk.toLowerCase() === k && (v === "" || String(lv).toLowerCase() === v)) return true;
      }
      return false;
    };
    for (const svc of Object.values(model.services)) if (has(svc.selector)) all.push(serviceHit(svc, 0, `selects ${query.trim()}`));
    for (const pod of Object.values(model.pods)) if (has(pod.labels)) all.push(podHit(pod, 1, ""));
  } else {
    const ipLike = IP_LIKE.test(q);
    for (const svc of Object.values(model.services)) {
      const byName = closeness(svc.name, q);
      if (byName >= 0) all.push(serviceHit(svc, byName * 2, ""));
      else if (ipLike && svc.clusterIP) {
        const byIP = closeness(svc.clusterIP, q);
        if (byIP === 0 || byIP === 1) all.push(serviceHit(svc, byIP * 2, `ClusterIP ${svc.clusterIP}`));
      }
    }
    for (const pod of Object.values(model.pods)) {
      if (ipLike && pod.ip) {
        const byIP = closeness(pod.ip, q);
        if (byIP === 0 || byIP === 1) {
          all.push(podHit(pod, byIP * 2, ""));
          continue;
        }
      }
      const byName = closeness(pod.name, q);
      if (byName >= 0) all.push(podHit(pod, byName * 2 + 1, ""));
    }
  }
  const inView = namespace ? all.filter((h) => h.namespace === namespace) : all;
  const byAddress = eq <= 0 && IP_LIKE.test(q);
  inView.sort(
    (a, b) =>
      a.rank - b.rank ||
      (a.kind === b.kind ? 0 : a.kind === "service" ? -1 : 1) ||
      (byAddress ? compareIPs(a.ip, b.ip) : 0) ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  return { hits: inView.slice(0, limit), total: inView.length, elsewhere: all.length - inView.length };
}

// ------------------------------------------------------------------------------------------ the box

/**
 * @param {HTMLElement} root the search form, holding [data-part=query], [data-part=result], [data-part=hits]
 * @param {SearchDeps} deps
 */
export function createSearch(root, deps) {
  const input = /** @type {HTMLInputElement} */ (part(root, "query"));
  const result = part(root, "result");
  const list = part(root, "hits");
  /** @type {Found} */
  let found = { hits: [], total: 0, elsewhere: 0 };
  /** The query `found` answers (typing runs the search a moment after the last key). */
  let foundFor = "";
  /** The namespace `found` was looked for in. */
  let foundIn = "";
  let active = -1;
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  let typing;
  /** The URL's state, still to be shown once the model holds what it names. @type {ViewState|null} */
  let restore = readViewState(location.hash);
  if (!restore.q && !restore.svc) restore = null;
  const restoreUntil = performance.now() + RESTORE_WAIT_MS;
  let restoreTried = 0;
  if (restore) {
    input.value = restore.q;
    // the URL says where to look: the browser's own scroll memory of a reload would fight it
    if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  }
  /** The last place gone to (tests read it). @type {{hit: Hit|null, node: HTMLElement|null, at: number}} */
  let last = { hit: null, node: null, at: 0 };

  function search() {
    clearTimeout(typing);
    const model = deps.model();
    found = model ? findHits(model, input.value, deps.namespace()) : { hits: [], total: 0, elsewhere: 0 };
    foundFor = input.value.trim();
    foundIn = deps.namespace();
    active = found.hits.length ? 0 : -1;
    drawHits();
  }

  function drawHits() {
    const q = input.value.trim();
    const open = Boolean(q) && document.activeElement === input;
    list.replaceChildren(
      ...found.hits.map((h, i) =>
        el("li", { class: `search-hit hit-${h.kind}`, attrs: { role: "option", id: `search-hit-${i}`, "aria-selected": String(i === active) }, dataset: { index: String(i) } }, [
          el("span", { class: "search-kind", text: h.kind === "service" ? "SERVICE" : "POD" }),
          el("span", { class: "search-title", text: h.title }),
          el("span", { class: "search-detail", text: h.detail }),
        ]),
      ),
    );
    list.hidden = !open || found.hits.length === 0;
    setAttr(input, "aria-expanded", String(!list.hidden));
    setAttr(input, "aria-activedescendant", active >= 0 && !list.hidden ? `search-hit-${active}` : null);
    let words = "";
    if (q) {
      words = found.total ? `${found.total} match${found.total === 1 ? "" : "es"}` : "no match";
      if (found.elsewhere) words += ` (+${found.elsewhere} in other namespaces)`;
    }
    setText(result, words);
    root.dataset.state = !q ? "empty" : found.total ? "found" : "none";
  }

  /**
   * Scroll to a hit (opening the slice that holds a pod) and remember it in the URL.
   * @param {Hit} hit
   * @returns {Promise<HTMLElement|null>}
   */
  async function go(hit) {
    const model = deps.model();
    const pod = hit.podKey && model ? model.pods[hit.podKey] : null;
    // where the pod is now (it may have changed Service since the search)
    const home = pod ? homeOf(pod) : hit.service;
    writeViewState({ q: input.value.trim(), svc: home || "" });
    let node = null;
    if (home) {
      node = await deps.reveal(home, hit.podKey ? { podKey: hit.podKey, ip: pod ? pod.ip : hit.ip, expand: true } : {});
    } else if (hit.podKey) {
      // a pod no Service selects: in the unmatched pods when drawn there, else its panel
      const drawn = /** @type {HTMLElement|null} */ (document.querySelector(`#orphans .orphan[data-pod-key="${CSS.escape(hit.podKey)}"]`));
      if (drawn) {
        frame.read(() => drawn.scrollIntoView({ block: "center", behavior: "auto" }));
        node = drawn;
      } else if (deps.openPod) deps.openPod(hit.podKey);
    }
    last = { hit, node, at: performance.now() };
    root.dataset.went = hit.key;
    return node;
  }

  /** @param {number} i */
  function goTo(i) {
    const hit = found.hits[i];
    if (!hit) return;
    list.hidden = true;
    setAttr(input, "aria-expanded", "false");
    go(hit);
  }

  input.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(search, TYPING_MS);
    if (!input.value.trim()) writeViewState({ q: "", svc: "" });
  });
  input.addEventListener("focus", () => {
    if (input.value.trim()) search();
  });
  input.addEventListener("blur", () => {
    // a click on a match lands before the list hides
    setTimeout(() => {
      list.hidden = true;
      setAttr(input, "aria-expanded", "false");
    }, 150);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      if (!found.hits.length) return;
      ev.preventDefault();
      const n = found.hits.length;
      active = (active + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
      drawHits();
    } else if (ev.key === "Escape") {
      if (!list.hidden) {
        list.hidden = true;
        setAttr(input, "aria-expanded", "false");
      } else {
        input.value = "";
        search();
        writeViewState({ q: "", svc: "" });
      }
    }
  });
  root.addEventListener("submit", (ev) => {
    ev.preventDefault();
    search();
    goTo(Math.max(active, 0));
  });
  list.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep the focus in the box
  list.addEventListener("click", (ev) => {
    const t = /** @type {Element|null} */ (ev.target);
    const li = t && /** @type {HTMLElement|null} */ (t.closest("[data-index]"));
    if (li) goTo(Number(li.dataset.index));
  });
  // "/" anywhere (outside a form field) goes to the box, as on many sites
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
    const t = /** @type {HTMLElement|null} */ (ev.target);
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    ev.preventDefault();
    input.focus();
    input.select();
  });
  // a hash edited by hand (or a shared link pasted in this tab) is followed
  window.addEventListener("hashchange", () => {
    const s = readViewState(location.hash);
    if (s.q === input.value.trim() && !s.svc) return;
    input.value = s.q;
    restore = s.q || s.svc ? s : null;
    const model = deps.model();
    if (model) tryRestore(model);
  });

  /**
   * Show what the URL names once the model holds it: the selected Service, and in it the pod or IP
   * the search names.
   * @param {Model} model
   */
  function tryRestore(model) {
    const s = restore;
    if (!s) return;
    restoreTried = performance.now();
    found = s.q ? findHits(model, s.q, deps.namespace(), RESTORE_LOOKS_AT) : { hits: [], total: 0, elsewhere: 0 };
    foundFor = s.q.trim();
    foundIn = deps.namespace();
    const wanted = s.svc;
    const hit =
      found.hits.find((h) => h.kind === "pod" && wanted && homeOf(model.pods[h.key]) === wanted) ||
      found.hits.find((h) => h.service === wanted) ||
      (wanted ? null : found.hits[0]);
    if (hit) {
      restore = null;
      found.hits = found.hits.slice(0, SHOWN);
      drawHits();
      go(hit);
    } else if (wanted && model.services[wanted]) {
      restore = null;
      drawHits();
      go(serviceHit(model.services[wanted], 0, ""));
    } else if (performance.now() > restoreUntil) {
      restore = null;
      drawHits();
    }
  }

  return {
    /** @param {Model} model @param {{all: boolean}} changes */
    render(model, changes) {
      // the namespace was changed under a search: its matches and counts were for the other one
      if (foundFor && !restore && deps.namespace() !== foundIn) search();
      if (!restore) return;
      if (changes.all || performance.now() - restoreTried >= RESTORE_EVERY_MS) tryRestore(model);
    },
    /** Search for `query` and go to its best match, as typing it and pressing Enter would. @param {string} query */
    find(query) {
      input.value = query;
      search();
      const hit = found.hits[0];
      return hit ? go(hit) : Promise.resolve(null);
    },
    /** The box's text, the query its matches answer, the matches, and where the box last went (for tests). */
    get state() {
      return { query: input.value, searched: foundFor, total: found.total, elsewhere: found.elsewhere, hits: found.hits.slice(), went: last.hit, wentAt: last.at };
    },
  };
}
