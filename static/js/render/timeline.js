// @ts-check
/**
 * The timeline of changes, newest first. Each row names its Service; like changes to one Service close
 * in time are one row ("146 endpoints of shipping-api-service → ready") that expands to its addresses.
 * The DOM stays bounded whatever the rate, and a render touches only the rows that new entries reach.
 */

import { clock, el, setAttr, setText } from "../dom.js";
import { motionAllowed } from "./motion.js";

const KIND_WORDS = {
  endpoint: "ENDPOINT",
  pod: "POD",
  service: "SERVICE",
  workload: "WORKLOAD",
  action: "YOU",
  source: "LINK",
};
/** The noun a grouped row counts, per entry kind; other kinds are never grouped. */
const COUNTED = { endpoint: ["endpoint", "endpoints"], pod: ["pod", "pods"] };

/** Rows kept in the list (the oldest go first). */
export const MAX_ROWS = 150;
/**
 * Entries of one Service and transition at most this many seconds apart join one row (readiness
 * probes spread a scale-up over seconds), unless the address is in the row already (it flapped) or
 * something was done in between (an action or the link to the cluster starts a new chapter).
 */
export const WINDOW_S = 10;
/** Kinds after which no row grows any more. */
const CHAPTER_KINDS = new Set(["action", "source"]);
/** Addresses a row remembers (its count goes on past this). */
const MAX_MEMBERS = 5000;
/** Addresses an expanded row draws as buttons; the rest are one line of text. */
const SHOWN_ADDRESSES = 48;
/** Past this many new rows in one render, rows come in without the row-in animation. */
const ANIMATE_UP_TO = 4;

/**
 * @typedef {import("../model.js").TimelineEntry} TimelineEntry
 * @typedef {{ip: string, pod: string}} Member
 * @typedef {{
 *   id: number, group: string, kind: string, service: string, transition: string,
 *   first: number, last: number, count: number, members: Member[], seen: Set<string>, entry: TimelineEntry,
 *   node: HTMLElement|null, expanded: boolean, drawnMembers: number,
 * }} Row
 */

/**
 * What an entry says happened, without the address or pod it happened to, so that like changes share it:
 * "10.244.1.7 → not ready (web-1: probe failing)" → "→ not ready (probe failing)".
 * @param {TimelineEntry} e
 * @returns {string}
 */
export function transitionOf(e) {
  let text = String(e.text || "");
  if (e.kind === "endpoint" && e.ip && text.startsWith(`${e.ip} `)) text = text.slice(e.ip.length + 1);
  else if (e.kind === "pod" && e.pod && text.startsWith(`pod ${e.pod} `)) text = text.slice(e.pod.length + 5);
  else return text;
  if (e.pod) text = text.split(`(${e.pod}: `).join("(").split(` (${e.pod})`).join("");
  return text.trim();
}

/**
 * The key under which an entry may join others, or "" when it always stands alone.
 * @param {TimelineEntry} e
 */
export function groupKeyOf(e) {
  if (!(e.kind in COUNTED) || !e.service) return "";
  if (e.kind === "endpoint" ? !e.ip : !e.pod) return "";
  return `${e.kind}\u0000${e.service}\u0000${transitionOf(e)}`;
}

/** "shipping-api-service" from "default/shipping-api-service". @param {string} key */
function nameOf(key) {
  const slash = key.indexOf("/");
  return slash < 0 ? key : key.slice(slash + 1);
}

/** @param {string} key */
function namespaceOf(key) {
  const slash = key.indexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}

/**
 * @param {HTMLElement} root holds [data-part=list]
 */
export function createTimelineView(root) {
  const list = /** @type {HTMLElement} */ (root.querySelector("[data-part=list]"));
  /** Rows by id, oldest activity first (a row that grows is moved to the end). @type {Map<number, Row>} */
  const rows = new Map();
  /** The row an entry with this group key may still join. @type {Map<string, Row>} */
  const open = new Map();
  let nextRowId = 1;
  /** The newest entry id drawn; new entries are those before it in model.timeline. */
  let lastId = -1;
  /** Entries drawn since the page loaded (tests and the bench read it). */
  let entriesSeen = 0;

  list.addEventListener("click", (ev) => {
    const target = /** @type {Element|null} */ (ev.target);
    const toggle = target && target.closest(".tl-more");
    if (!toggle) return;
    const node = /** @type {HTMLElement|null} */ (toggle.closest(".tl-item"));
    const row = node && rows.get(Number(node.dataset.row));
    if (!row || !row.node) return;
    row.expanded = !row.expanded;
    drawMembers(row);
  });

  function reset() {
    rows.clear();
    open.clear();
    list.replaceChildren();
    lastId = -1;
  }

  /**
   * The entries in `timeline` (newest first) not drawn yet, or null when the timeline does not
   * continue what was drawn (cleared, or more arrived than it keeps): then it is drawn afresh.
   * @param {TimelineEntry[]} timeline
   * @returns {TimelineEntry[]|null}
   */
  function freshEntries(timeline) {
    if (lastId < 0) return null;
    for (let i = 0; i < timeline.length; i++) {
      const id = timeline[i].id;
      if (id === lastId) return timeline.slice(0, i);
      if (id < lastId) return null;
    }
    return null;
  }

  /** @param {TimelineEntry} e @param {Set<Row>} touched */
  function add(e, touched) {
    entriesSeen += 1;
    const key = groupKeyOf(e);
    const time = Number(e.time) || 0;
    const who = e.ip || e.pod || "";
    if (CHAPTER_KINDS.has(String(e.kind))) open.clear();
    let row = key ? open.get(key) : undefined;
    if (row && (time - row.last > WINDOW_S || time < row.first - WINDOW_S || row.seen.has(who))) row = undefined;
    if (row) {
      row.count += 1;
      row.seen.add(who);
      row.last = Math.max(row.last, time);
      row.entry = e;
      if (row.members.length < MAX_MEMBERS) row.members.push({ ip: e.ip || "", pod: e.pod || "" });
      rows.delete(row.id); // to the newest end
      rows.set(row.id, row);
    } else {
      row = {
        id: nextRowId++,
        group: key,
        kind: String(e.kind),
        service: e.service || "",
        transition: transitionOf(e),
        first: time,
        last: time,
        count: 1,
        members: key ? [{ ip: e.ip || "", pod: e.pod || "" }] : [],
        seen: new Set([who]),
        entry: e,
        node: null,
        expanded: false,
        drawnMembers: 0,
      };
      rows.set(row.id, row);
      if (key) open.set(key, row);
    }
    touched.add(row);
  }

  /** Drop the rows with the oldest activity past MAX_ROWS. */
  function evict() {
    for (const row of rows.values()) {
      if (rows.size <= MAX_ROWS) break;
      rows.delete(row.id);
      if (row.group && open.get(row.group) === row) open.delete(row.group);
      if (row.node) row.node.remove();
    }
  }

  /** @param {Row} row */
  function createNode(row) {
    const kindNode = el("span", { class: `tl-kind tl-kind-${row.kind}`, dataset: { part: "kind" } }, [
      KIND_WORDS[/** @type {keyof typeof KIND_WORDS} */ (row.kind)] || row.kind.toUpperCase(),
    ]);
    // a group reads "146 endpoints of <Service> → ready"; a single entry "<Service> 10.244.1.7 → ready"
    const body = el("div", { class: "tl-body" }, [
      el("span", { class: "tl-count", dataset: { part: "count" } }),
      row.service ? el("span", { class: "tl-svc", text: nameOf(row.service), attrs: { title: `Service ${row.service}` } }) : null,
      row.service ? " " : null,
      el("span", { class: "tl-text", dataset: { part: "text" } }),
    ]);
    const node = el("li", { class: "tl-item", dataset: { row: String(row.id), kind: row.kind, ns: namespaceOf(row.service) } }, [
      el("time", { class: "tl-time", dataset: { part: "time" } }),
      kindNode,
      body,
    ]);
    if (row.service) node.dataset.service = row.service;
    return node;
  }

  /** Write a row's time, words and count into its node (creating it the first time). @param {Row} row */
  function drawRow(row) {
    const fresh = !row.node;
    const node = row.node || createNode(row);
    row.node = node;
    const [time, , body] = /** @type {HTMLElement[]} */ (Array.from(node.children));
    const text = /** @type {HTMLElement} */ (body.querySelector(".tl-text"));
    const span = row.count > 1 && clock(row.first) !== clock(row.last) ? `${clock(row.first)}–${clock(row.last)}` : clock(row.last);
    if (time.textContent !== span) time.textContent = span;
    if (row.count === 1) {
      const e = row.entry;
      if (text.textContent !== e.text) text.textContent = e.text;
      if (e.pod && e.service) node.dataset.podKey = `${namespaceOf(e.service)}/${e.pod}`;
      if (e.ip) node.dataset.ip = e.ip;
      return fresh;
    }
    if (!node.classList.contains("tl-group")) {
      // it became a group: the single entry's pod link gives way to the list of addresses
      delete node.dataset.podKey;
      delete node.dataset.ip;
      node.classList.add("tl-group");
      body.append(" ", el("button", { class: "tl-more", attrs: { type: "button", "aria-expanded": "false" } }));
    }
    const [one, many] = COUNTED[/** @type {keyof typeof COUNTED} */ (row.kind)];
    const count = /** @type {HTMLElement} */ (body.firstElementChild);
    const words = `${row.count} ${row.count === 1 ? one : many} of `;
    if (count.textContent !== words) count.textContent = words;
    if (text.textContent !== row.transition) text.textContent = row.transition;
    node.dataset.count = String(row.count);
    drawMembers(row);
    return fresh;
  }

  /** The expand button's words and, when expanded, the addresses drawn so far plus the new ones. @param {Row} row */
  function drawMembers(row) {
    const node = row.node;
    if (!node) return;
    const more = /** @type {HTMLElement|null} */ (node.querySelector(".tl-more"));
    if (!more) return;
    const label = row.kind === "endpoint" ? "addresses" : "pods";
    setText(more, row.expanded ? `▾ hide ${label}` : `▸ ${row.count} ${label}`);
    setAttr(more, "aria-expanded", String(row.expanded));
    let box = /** @type {HTMLElement|null} */ (node.querySelector(".tl-addrs"));
    if (!row.expanded) {
      if (box) box.remove();
      row.drawnMembers = 0;
      return;
    }
    if (!box) {
      box = el("div", { class: "tl-addrs", dataset: { part: "addrs" } }, [el("span", { class: "tl-rest" })]);
      /** @type {HTMLElement} */ (more.parentElement).append(box);
      row.drawnMembers = 0;
    }
    const rest = /** @type {HTMLElement} */ (box.lastElementChild);
    const ns = namespaceOf(row.service);
    const upTo = Math.min(row.members.length, SHOWN_ADDRESSES);
    for (let i = row.drawnMembers; i < upTo; i++) {
      const m = row.members[i];
      const b = el("button", { class: "tl-addr", attrs: { type: "button", title: m.pod ? `pod ${m.pod}` : m.ip } }, [
        row.kind === "endpoint" ? m.ip || m.pod : m.pod,
      ]);
      if (m.pod) b.dataset.podKey = `${ns}/${m.pod}`;
      if (m.ip) b.dataset.ip = m.ip;
      box.insertBefore(b, rest);
    }
    row.drawnMembers = upTo;
    const hidden = row.count - upTo;
    const beyond = row.members
      .slice(upTo, upTo + 400)
      .map((m) => (row.kind === "endpoint" ? m.ip : m.pod))
      .join(" · ");
    const restText = hidden > 0 ? `+ ${hidden} more${beyond ? `: ${beyond}${hidden > 400 ? " …" : ""}` : ""}` : "";
    if (rest.textContent !== restText) rest.textContent = restText;
  }

  /**
   * Put the touched rows first, newest activity first, without touching the others.
   * @param {Set<Row>} touched
   * @param {boolean} animate
   */
  function place(touched, animate) {
    const ordered = Array.from(touched).filter((r) => rows.has(r.id));
    ordered.sort((a, b) => a.entry.id - b.entry.id);
    let created = 0;
    for (const row of ordered) if (!row.node) created += 1;
    const entering = animate && created <= ANIMATE_UP_TO && motionAllowed();
    for (const row of ordered) {
      const fresh = drawRow(row);
      const node = /** @type {HTMLElement} */ (row.node);
      if (list.firstElementChild !== node) list.prepend(node);
      if (fresh && entering) {
        // a class set on a node before its first style pass starts its animation: no layout forced
        node.classList.add("is-entering");
        node.addEventListener("animationend", () => node.classList.remove("is-entering"), { once: true });
      }
    }
  }

  return {
    /** @param {import("../model.js").Model} model @param {{all: boolean, timeline: boolean}} changes */
    render(model, changes) {
      if (!changes.all && !changes.timeline) return;
      const timeline = model.timeline;
      let fresh = changes.all ? null : freshEntries(timeline);
      const animate = fresh !== null;
      if (fresh === null) {
        reset();
        fresh = timeline;
      }
      /** @type {Set<Row>} */
      const touched = new Set();
      for (let i = fresh.length - 1; i >= 0; i--) add(fresh[i], touched);
      if (timeline.length) lastId = timeline[0].id;
      evict();
      place(touched, animate);
      root.dataset.count = String(timeline.length);
      root.dataset.rows = String(rows.size);
    },
    /** Entries drawn since load and rows in the list (for tests and the bench). */
    get stats() {
      return { entries: entriesSeen, rows: rows.size, lastId };
    },
  };
}
