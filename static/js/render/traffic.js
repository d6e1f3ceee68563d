// @ts-check
/** Simulated traffic: a client box per Service sends requests through it to one ready endpoint each, with hit counters. */

import { el, part, setText } from "../dom.js";
import * as frame from "../frame.js";
import { NO_READY, portPath, route } from "../traffic.js";
import { motionAllowed } from "./motion.js";

/** One request per Service this often (ms). */
const EVERY_MS = 800;
/** How long a request takes to fly from the client to its pod (ms). */
const FLIGHT_MS = 650;

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {{sent: number, failed: number, last: string}} Tally
 */

/**
 * @param {{cardOf: (key: string) => HTMLElement|null}} services the Services view (cards exist only near the viewport)
 * @param {() => Model|null} getModel
 */
export function createTraffic(services, getModel) {
  /** Services with traffic on. @type {Set<string>} */
  const on = new Set();
  /** "svcKey|ip" → requests it received. @type {Map<string, number>} */
  const hits = new Map();
  /** @type {Map<string, Tally>} */
  const tallies = new Map();
  /** @type {ReturnType<typeof setInterval>|null} */
  let timer = null;
  /** Who else draws the requests (a diagram of the same Service). @type {Set<(key: string, route: import("../traffic.js").Route) => void>} */
  const listeners = new Set();
  const layer = el("div", { class: "traffic-layer", attrs: { "aria-hidden": "true" } });
  document.body.append(layer);

  /** @param {string} key */
  function cardOf(key) {
    return services.cardOf(key);
  }

  /** Show the toggle's state (and, when on, the lane and the hit counters) on one card; idempotent. @param {HTMLElement} card */
  function decorate(card) {
    const key = card.dataset.key || "";
    const button = /** @type {HTMLButtonElement|null} */ (card.querySelector('[data-part="traffic-toggle"]'));
    if (!button) return;
    const isOn = on.has(key);
    button.setAttribute("aria-pressed", String(isOn));
    setText(button, isOn ? "■ Stop traffic" : "▶ Send traffic");
    let lane = /** @type {HTMLElement|null} */ (card.querySelector('[data-part="traffic-lane"]'));
    if (isOn && !lane) {
      lane = el("div", { class: "traffic-lane", dataset: { part: "traffic-lane" }, attrs: { role: "status" } }, [
        el("span", { class: "traffic-client", dataset: { part: "traffic-client" }, text: "CLIENT" }),
        el("span", { class: "traffic-arrow", text: "→" }),
        el("span", { class: "traffic-svc" }, [
          el("strong", { dataset: { part: "traffic-svc-name" } }),
          el("span", { class: "traffic-ports", dataset: { part: "traffic-ports" } }),
        ]),
        el("span", { class: "traffic-arrow", text: "→" }),
        el("span", { class: "traffic-result", dataset: { part: "traffic-result" } }),
        el("span", { class: "traffic-tally", dataset: { part: "traffic-tally" } }),
      ]);
      // on the toggle's own line, so nothing below it moves
      button.after(lane);
    } else if (!isOn && lane) {
      lane.remove();
      lane = null;
    }
    const model = getModel();
    const svc = model && model.services[key];
    if (lane && svc) {
      setText(part(lane, "traffic-svc-name"), svc.name);
      setText(part(lane, "traffic-ports"), ` ${portPath(svc)}`);
      const t = tallies.get(key) || { sent: 0, failed: 0, last: "" };
      setText(part(lane, "traffic-tally"), `sent ${t.sent} · failed ${t.failed}`);
    }
    // hit counters on the chips of this Service
    for (const chip of /** @type {NodeListOf<HTMLElement>} */ (card.querySelectorAll(".chip:not([data-leaving])"))) {
      const ip = chip.querySelector('[data-part="ip"]')?.textContent || "";
      const n = hits.get(`${key}|${ip}`);
      let badge = /** @type {HTMLElement|null} */ (chip.querySelector(".chip-hits"));
      if (n === undefined && !isOn) {
        if (badge) badge.remove();
        continue;
      }
      if (!badge) {
        badge = el("span", { class: "chip-hits", dataset: { part: "hits" } });
        chip.append(badge);
      }
      setText(badge, `${n || 0} hit${n === 1 ? "" : "s"}`);
      chip.dataset.hits = String(n || 0);
    }
  }

  /** @param {string} key */
  function toggle(key) {
    if (on.has(key)) {
      on.delete(key);
      // stopped: its counters go (a new start counts from zero)
      for (const id of [...hits.keys()]) if (id.startsWith(`${key}|`)) hits.delete(id);
      tallies.delete(key);
    } else on.add(key);
    const card = cardOf(key);
    if (card) decorate(card);
    if (on.size && !timer) timer = setInterval(tick, EVERY_MS);
    if (!on.size && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  function tick() {
    for (const key of on) send(key);
  }

  /**
   * Send one request through the Service: count it, then animate it when motion is allowed.
   * @param {string} key
   * @param {() => number} [random]
   */
  function send(key, random) {
    const model = getModel();
    const svc = model && model.services[key];
    if (!svc) return null;
    const r = route(svc, random);
    const t = tallies.get(key) || { sent: 0, failed: 0, last: "" };
    t.sent += 1;
    const card = cardOf(key);
    if (r.ok) {
      const id = `${key}|${r.endpoint.ip}`;
      hits.set(id, (hits.get(id) || 0) + 1);
      t.last = `${r.endpoint.ip}:${(svc.ports[0] && svc.ports[0].targetPort) || "?"}`;
    } else {
      t.failed += 1;
      t.last = `✕ ${NO_READY}`;
    }
    tallies.set(key, t);
    for (const fn of listeners) fn(key, r);
    if (card) {
      decorate(card);
      const lane = card.querySelector('[data-part="traffic-lane"]');
      if (lane) {
        const result = part(/** @type {HTMLElement} */ (lane), "traffic-result");
        setText(result, r.ok ? `pod ${r.endpoint.pod || "?"} ${t.last}` : t.last);
        result.dataset.state = r.ok ? "ok" : "failed";
        lane.classList.toggle("is-failing", !r.ok);
        if (motionAllowed()) {
          const ip = r.ok ? r.endpoint.ip : null;
          // positions are read at the start of the next frame (layout is clean then), the dot drawn after
          frame.read(() => fly(/** @type {HTMLElement} */ (lane), card, ip));
        }
      }
    }
    return r;
  }

  /**
   * A dot from the client box to the endpoint's chip (or a failed request bouncing off the Service).
   * @param {HTMLElement} lane @param {HTMLElement} card @param {string|null} ip
   */
  function fly(lane, card, ip) {
    const from = part(lane, "traffic-client").getBoundingClientRect();
    let to = null;
    if (ip) {
      for (const chip of /** @type {NodeListOf<HTMLElement>} */ (card.querySelectorAll(".chip:not([data-leaving])"))) {
        if (chip.querySelector('[data-part="ip"]')?.textContent === ip) to = chip.getBoundingClientRect();
      }
      // a full slice drawn as a strip: fly to the strip
      const strip = to ? null : card.querySelector(".strip:not([hidden])");
      if (strip) to = strip.getBoundingClientRect();
    }
    const svcBox = ip ? null : lane.querySelector(".traffic-svc")?.getBoundingClientRect() || from;
    frame.write(() => draw(from, to, svcBox, ip));
  }

  /**
   * @param {DOMRect} from @param {DOMRect|null} to @param {DOMRect|null} svcBox @param {string|null} ip
   */
  function draw(from, to, svcBox, ip) {
    const dot = el("span", { class: `traffic-dot${ip ? "" : " is-failed"}`, text: ip ? "" : "✕" });
    layer.append(dot);
    const x0 = from.left + from.width / 2;
    const y0 = from.top + from.height / 2;
    /** @type {Keyframe[]} */
    let frames;
    if (to) {
      const x1 = to.left + to.width / 2;
      const y1 = to.top + to.height / 2;
      frames = [
        { transform: `translate(${x0}px, ${y0}px) scale(1)`, opacity: 1 },
        { transform: `translate(${x1}px, ${y1}px) scale(0.8)`, opacity: 1, offset: 0.9 },
        { transform: `translate(${x1}px, ${y1}px) scale(2)`, opacity: 0 },
      ];
    } else {
      const x1 = (svcBox || from).left + 10;
      frames = [
        { transform: `translate(${x0}px, ${y0}px)`, opacity: 1 },
        { transform: `translate(${x1}px, ${y0}px)`, opacity: 1, offset: 0.6 },
        { transform: `translate(${x0 + 10}px, ${y0 + 30}px)`, opacity: 0 },
      ];
    }
    const anim = dot.animate(frames, { duration: FLIGHT_MS, easing: "ease-in-out" });
    anim.onfinish = () => dot.remove();
    setTimeout(() => dot.remove(), FLIGHT_MS + 500);
  }

  return {
    /** Re-decorate the drawn cards of the Services with traffic (their chips may be new). */
    render() {
      for (const key of busyKeys()) {
        const card = cardOf(key);
        if (card) decorate(card);
      }
    },
    toggle,
    send,
    /** @param {string} key */
    isOn: (key) => on.has(key),
    /** Hits per endpoint IP of one Service. @param {string} key */
    hitsOf(key) {
      /** @type {Record<string, number>} */
      const out = {};
      for (const [id, n] of hits) if (id.startsWith(`${key}|`)) out[id.slice(key.length + 1)] = n;
      return out;
    },
    /** @param {string} key */
    tally: (key) => tallies.get(key) || { sent: 0, failed: 0, last: "" },
    stopAll() {
      for (const key of [...on]) toggle(key);
    },
    /** Call `fn(serviceKey, route)` for every request sent. @param {(key: string, route: import("../traffic.js").Route) => void} fn */
    onSend(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };

  /** Services with traffic on or hit counters to show. */
  function busyKeys() {
    const keys = new Set(on);
    for (const id of hits.keys()) keys.add(id.slice(0, id.lastIndexOf("|")));
    return keys;
  }
}
