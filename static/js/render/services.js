// @ts-check
/**
 * The Services column at any size: cards in a virtualised list (only blocks near the viewport exist),
 * patched per frame for the Services that changed, with a small API to find and reveal one.
 */

import * as frame from "../frame.js";
import { createCard, isCompact, updateCard, updateScale } from "./card.js";
import { leave } from "./motion.js";
import { createVirtualList } from "./vlist.js";

export { portsText } from "./card.js";

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {import("../model.js").ServiceView} ServiceView
 * @typedef {import("../model.js").DeploymentView} DeploymentView
 * @typedef {import("../model.js").Changes} Changes
 * @typedef {{
 *   onScale: (namespace: string, deployment: string, replicas: number) => Promise<{ok: boolean, message: string}>,
 *   onExplainService: (key: string) => void,
 *   onTraffic: (key: string) => void,
 *   highlight: import("./highlight.js").HighlightState,
 *   request: () => void,
 * }} ServiceHandlers
 * @typedef {{expand?: boolean, podKey?: string|null, ip?: string|null, block?: ScrollLogicalPosition, mark?: boolean}} RevealOptions
 */

/** Expanded slices kept at once (each may hold up to 1000 chips): the oldest folds back. */
const MAX_EXPANDED = 4;
/** Frames the list must stay still before a node scrolled to is let go, and the most it is held. */
const SETTLE_FRAMES = 10;
const HOLD_MAX_FRAMES = 600;

/**
 * The Deployments whose pod template the Service selects (DeploymentView.services), by name.
 * @param {Model} model
 * @param {string} serviceKey
 * @returns {DeploymentView[]}
 */
export function deploymentsOf(model, serviceKey) {
  return Object.values(model.deployments || {})
    .filter((d) => (d.services || []).includes(serviceKey))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Services with a selector first (the ones a lesson is about), then by key. @param {ServiceView} a @param {ServiceView} b */
function byOrder(a, b) {
  return Number(!a.selector) - Number(!b.selector) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * A card's height in rem (the page's type scales with the window, so its layout does too), from the
 * model alone: measured on the page at 1280 and 1600 wide.
 * @param {ServiceView|undefined} svc
 * @param {Set<string>} expanded
 */
function estimate(svc, expanded) {
  if (!svc) return 0;
  let h = 11.2;
  if (svc.diagnosis) h += 2.6;
  for (const slice of svc.slices || []) {
    const n = (slice.endpoints || []).length;
    h += 2.2;
    if (isCompact(slice, svc.key, expanded)) h += 1.9 + Math.ceil(n / 42) * 1.1;
    else if (n === 0) h += 1.5;
    else if (n > 24) h += Math.ceil(n / 5) * 1.75;
    else h += Math.ceil(n / 3) * 5.07;
  }
  const x = (svc.excluded || []).length;
  if (x) h += 3.3 + (x <= 10 ? x * 2 : 2);
  return h;
}

/**
 * @param {HTMLElement} root the container of the cards (#services)
 * @param {ServiceHandlers} handlers
 */
export function createServicesView(root, handlers) {
  /** @type {Model|null} */
  let model = null;
  let actions = true;
  /** Live cards by Service key. @type {Map<string, HTMLElement>} */
  const cards = new Map();
  /** "serviceKey|sliceName" of slices drawn as chips although full, oldest first. @type {Set<string>} */
  const expanded = new Set();
  /** "serviceKey|reason" → whether the user opened or closed that group, and how many rows it shows. */
  /** @type {Map<string, {open: boolean|null, shown: number}>} */
  const groups = new Map();
  /** Service key → the Deployments that select into it. @type {Map<string, DeploymentView[]>} */
  let depsOf = new Map();
  /** @type {Map<string, (svc: ServiceView) => boolean>} */
  const filters = new Map();
  /** Services to draw again in the next frame (toggles, highlight). @type {Set<string>} */
  const redraw = new Set();
  let orderSignature = "";
  /** Whether each listed Service had a selector (it decides the order). @type {Map<string, boolean>} */
  let selectorOf = new Map();
  let animate = false;
  /** @type {Set<(keys: string[]) => void>} */
  const drawnListeners = new Set();
  let drawnSignature = "";
  /** Stops holding the node last scrolled to in place. */
  let letGo = () => {};

  const cardHandlers = {
    onScale: handlers.onScale,
    onExplainService: handlers.onExplainService,
    onTraffic: handlers.onTraffic,
    /** @param {string} key @param {string} slice */
    onToggleSlice(key, slice) {
      const id = `${key}|${slice}`;
      if (expanded.has(id)) expanded.delete(id);
      else {
        expanded.add(id);
        while (expanded.size > MAX_EXPANDED) {
          const oldest = /** @type {string} */ (expanded.values().next().value);
          expanded.delete(oldest);
          redraw.add(oldest.slice(0, oldest.lastIndexOf("|")));
        }
      }
      redraw.add(key);
      handlers.request();
    },
    /** @param {string} key @param {string} reason @param {boolean} more */
    onToggleGroup(key, reason, more) {
      const id = `${key}|${reason}`;
      const state = groups.get(id) || { open: null, shown: 0 };
      const card = cards.get(key);
      const node = card && card.querySelector(`.xgroup[data-reason="${CSS.escape(reason)}"]`);
      const isOpen = Boolean(node && node.classList.contains("open"));
      if (more) state.shown = Math.max(state.shown, Number(node && node.querySelectorAll(".excluded-item").length) || 0) + 50;
      else state.open = !isOpen;
      groups.set(id, state);
      redraw.add(key);
      handlers.request();
    },
  };

  /** @param {string} key @returns {import("./card.js").CardContext} */
  function context(key) {
    return {
      model: /** @type {Model} */ (model),
      deployments: depsOf.get(key) || [],
      actions,
      hl: handlers.highlight,
      expanded,
      groups,
      animate,
    };
  }

  const list = createVirtualList(root, {
    blockSize: 8,
    request: handlers.request,
    estimate: (keys) => {
      let h = 0;
      for (const k of keys) h += estimate(model ? model.services[k] : undefined, expanded) + 0.9; // + the gap
      return h;
    },
    fill(blockEl, keys) {
      if (!model) return;
      let cursor = /** @type {Element|null} */ (blockEl.firstElementChild);
      for (const key of keys) {
        const svc = model.services[key];
        if (!svc) continue;
        let card = cards.get(key);
        if (!card) {
          card = createCard(svc, cardHandlers);
          card.dataset.key = key;
          cards.set(key, card);
          updateCard(card, svc, { ...context(key), animate: false }, true);
        }
        if (card === cursor) cursor = card.nextElementSibling;
        else blockEl.insertBefore(card, cursor);
      }
      // cards that moved out of this block (another block took them, or their Service is gone)
      while (cursor) {
        const next = cursor.nextElementSibling;
        const k = /** @type {HTMLElement} */ (cursor).dataset.key;
        if (k !== undefined && !keys.includes(k)) {
          if (cards.get(k) === cursor) cards.delete(k);
          cursor.remove();
        }
        cursor = next;
      }
    },
    clear(blockEl, keys) {
      for (const k of keys) {
        const card = cards.get(k);
        if (card && card.parentElement === blockEl) cards.delete(k);
      }
      blockEl.replaceChildren();
    },
  });

  /** @param {Model} m */
  function rebuildDeps(m) {
    /** @type {Map<string, DeploymentView[]>} */
    const next = new Map();
    for (const d of Object.values(m.deployments || {})) {
      for (const s of d.services || []) {
        const l = next.get(s);
        if (l) l.push(d);
        else next.set(s, [d]);
      }
    }
    for (const l of next.values()) l.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return next;
  }

  /** @param {Model} m */
  function orderOf(m) {
    const svcs = Object.values(m.services).filter((s) => {
      for (const f of filters.values()) if (!f(s)) return false;
      return true;
    });
    svcs.sort(byOrder);
    selectorOf = new Map(Object.values(m.services).map((s) => [s.key, Boolean(s.selector)]));
    return svcs.map((s) => s.key);
  }

  /**
   * Keep what was just scrolled to (in a read phase) where it is while the list draws around it:
   * blocks drawn above it at their real height, or put away at an estimated one, would move it (the
   * browser's scroll anchoring may anchor on such a block), and an intersection seen before the
   * scroll may put its own block away for a frame or two (its card is then drawn anew). Each frame's
   * read phase scrolls it back; it is let go once the list has been still for a few frames, or at
   * the user's own scroll.
   * @param {() => HTMLElement|null} find the node now
   * @param {number} top where it was put (px from the top of the viewport)
   */
  function holdInPlace(find, top) {
    letGo();
    const inputs = ["wheel", "keydown", "pointerdown", "touchstart"];
    let held = true;
    letGo = () => {
      held = false;
      for (const type of inputs) window.removeEventListener(type, letGo, true);
    };
    for (const type of inputs) window.addEventListener(type, letGo, { capture: true, passive: true });
    let still = 0;
    let frames = 0;
    let signature = drawnSignature;
    const check = () => {
      if (!held) return;
      if (still >= SETTLE_FRAMES || ++frames > HOLD_MAX_FRAMES) {
        letGo();
        return;
      }
      const node = find();
      const drift = node ? node.getBoundingClientRect().top - top : 0;
      if (Math.abs(drift) >= 1) window.scrollBy(0, drift);
      const busy = !node || signature !== drawnSignature || list.stats.waiting > 0;
      signature = drawnSignature;
      still = busy ? 0 : still + 1;
      frame.read(check);
    };
    frame.read(check);
  }

  function notifyDrawn() {
    const keys = list.drawn();
    const sig = keys.join("\n");
    if (sig === drawnSignature) return;
    drawnSignature = sig;
    for (const fn of drawnListeners) fn(keys);
  }

  const view = {
    /**
     * Patch the cards of the Services that changed (all of them on a snapshot), then draw blocks that
     * came near the viewport until `deadline`. Returns whether drawing is left for the next frame.
     * @param {Model} m
     * @param {Changes} changes
     * @param {{deadline: number, highlightChanged: boolean}} opts
     */
    render(m, changes, opts) {
      model = m;
      actions = Boolean(m.meta && m.meta.actions);
      animate = !changes.all;
      const depsChanged = changes.all || changes.deployments.size > 0;
      /** @type {Set<string>} */
      const depTouched = new Set();
      if (depsChanged) {
        const before = depsOf;
        depsOf = rebuildDeps(m);
        if (!changes.all) {
          for (const k of changes.deployments) {
            for (const [svc, deps] of before) if (deps.some((d) => d.key === k)) depTouched.add(svc);
            for (const [svc, deps] of depsOf) if (deps.some((d) => d.key === k)) depTouched.add(svc);
          }
        }
      }
      // the order changes only when a Service comes, goes or gains/loses its selector
      let reorder = changes.all || changes.meta;
      if (!reorder) {
        for (const k of changes.services) {
          const svc = m.services[k];
          if (!svc || !selectorOf.has(k) || selectorOf.get(k) !== Boolean(svc.selector)) {
            reorder = true;
            break;
          }
        }
      }
      if (reorder) {
        const order = orderOf(m);
        const sig = order.join("\n");
        if (sig !== orderSignature) {
          orderSignature = sig;
          // a Service that left the model animates out from its card before the list closes up
          if (!changes.all) {
            for (const k of changes.services) {
              const card = cards.get(k);
              if (card && !m.services[k]) {
                cards.delete(k);
                leave(card);
              }
            }
          }
          list.setKeys(order);
        }
      }
      for (const [key, card] of cards) {
        const svc = m.services[key];
        if (!svc) continue;
        const touched = changes.all || changes.meta || changes.services.has(key) || redraw.has(key);
        // a new highlight may name chips inside a card that did not change: draw it through
        if (touched || opts.highlightChanged) updateCard(card, svc, context(key), true);
        else if (depTouched.has(key)) updateScale(card, svc, context(key));
      }
      redraw.clear();
      const more = list.pump(opts.deadline);
      root.dataset.count = String(list.keys.length);
      root.dataset.drawn = String(cards.size);
      notifyDrawn();
      return more;
    },
    /**
     * Bring a Service into view (drawing it if it was far away), optionally open the full slice that
     * holds a pod and point at the pod's chip. Resolves to the node scrolled to, or null when the
     * Service is not in the list (unknown, or filtered out).
     * @param {string} key
     * @param {RevealOptions} [options]
     * @returns {Promise<HTMLElement|null>}
     */
    reveal(key, options = {}) {
      return new Promise((resolve) => {
        frame.write(() => {
          if (!model || !list.has(key)) {
            resolve(null);
            return;
          }
          const svc = model.services[key];
          const pod = options.podKey ? options.podKey.slice(options.podKey.indexOf("/") + 1) : null;
          if (svc && options.expand !== false && (pod || options.ip)) {
            for (const slice of svc.slices || []) {
              const hit = (slice.endpoints || []).some((ep) => (pod && ep.pod === pod) || (options.ip && ep.ip === options.ip));
              if (hit && isCompact(slice, key, expanded)) cardHandlers.onToggleSlice(key, slice.name);
            }
          }
          list.wake(key);
          const card = cards.get(key);
          if (card && svc) updateCard(card, svc, context(key), true);
          redraw.delete(key);
          const sel = options.podKey
            ? `[data-pod-key="${CSS.escape(options.podKey)}"]`
            : options.ip
              ? `.chip[data-key^="${CSS.escape(`${options.ip}|`)}"]`
              : null;
          const cardNow = () => cards.get(key) || null;
          /** The pod's node in the card, when drawn. */
          const podNow = () => {
            const c = cards.get(key);
            return c && sel ? /** @type {HTMLElement|null} */ (c.querySelector(`[data-part=slices] ${sel}`) || c.querySelector(sel)) : null;
          };
          frame.read(() => {
            const pod = podNow();
            const target = pod || cardNow();
            if (!target) {
              resolve(null);
              return;
            }
            target.scrollIntoView({ block: options.block || (pod ? "center" : "start"), behavior: "auto" });
            list.wake(key); // an intersection seen before this scroll must not put it away
            holdInPlace(pod ? podNow : cardNow, target.getBoundingClientRect().top);
            if (options.mark !== false) {
              frame.write(() => {
                target.classList.add("is-found");
                target.animate(
                  [{ outline: "6px solid #a1007f", outlineOffset: "12px" }, { outline: "6px solid #a1007f", outlineOffset: "2px" }],
                  { duration: 900, easing: "ease-out" },
                );
                setTimeout(() => target.classList.remove("is-found"), 4000);
              });
            }
            resolve(target);
          });
        });
      });
    },
    /** The keys of the Services whose cards exist now, in page order. */
    drawn() {
      return list.drawn();
    },
    /** @param {string} key */
    isDrawn(key) {
      return cards.has(key);
    },
    /** Every Service key the list holds (after filters), in page order. */
    order() {
      return list.keys.slice();
    },
    /** The card of a drawn Service, or null. @param {string} key */
    cardOf(key) {
      return cards.get(key) || null;
    },
    /** Call `fn(keys)` whenever the set of drawn Services changes. @param {(keys: string[]) => void} fn */
    onDrawn(fn) {
      drawnListeners.add(fn);
      return () => drawnListeners.delete(fn);
    },
    /**
     * Show only the Services `pred` accepts (several named filters combine), or drop a filter with null.
     * @param {string} name
     * @param {((svc: ServiceView) => boolean)|null} pred
     */
    setFilter(name, pred) {
      if (pred) filters.set(name, pred);
      else filters.delete(name);
      if (model) {
        const order = orderOf(model);
        orderSignature = order.join("\n");
        list.setKeys(order);
        handlers.request();
      }
    },
    /** Whether a full slice of this Service is drawn as chips. @param {string} key @param {string} slice */
    isExpanded(key, slice) {
      return expanded.has(`${key}|${slice}`);
    },
    /** Open or fold a full slice. @param {string} key @param {string} slice @param {boolean} open */
    setExpanded(key, slice, open) {
      if (expanded.has(`${key}|${slice}`) !== open) cardHandlers.onToggleSlice(key, slice);
    },
    get stats() {
      return { ...list.stats, cards: cards.size, expanded: expanded.size };
    },
  };
  return view;
}

/** @typedef {ReturnType<typeof createServicesView>} ServicesView */
