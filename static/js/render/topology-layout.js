// @ts-check
/**
 * Where everything of the topology diagram goes, computed from the model alone (no DOM is read): one
 * Service → its EndpointSlices → their endpoints → the pods, in a box per Node, with the pods that
 * match the selector but are no endpoint and the pods that match no Service. Full slices fold into a
 * counted bundle per node. Pure: the same model and options give the same boxes, links and routes.
 */

import { charsIn, clip, ellipsize, fit, textWidth, wrap } from "./topology-text.js";

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {import("../model.js").ServiceView} ServiceView
 * @typedef {import("../model.js").SliceView} SliceView
 * @typedef {import("../model.js").EndpointView} EndpointView
 * @typedef {import("../model.js").PodView} PodView
 * @typedef {import("../model.js").Excluded} Excluded
 * @typedef {"service"|"diagnosis"|"slice"|"more-slices"|"node"|"endpoint"|"pod"|"bundle"|"bundle-pods"|"no-endpoint"|"orphan"|"note"} BoxKind
 * @typedef {{text: string, x: number, y: number, size: number, cls: string, anchor?: "start"|"end"}} Line
 *   x, y: the baseline's start (or end, for anchor "end") in diagram px
 * @typedef {{key: string, kind: BoxKind, x: number, y: number, w: number, h: number, state: string,
 *   lines: Line[], label: string, podKey?: string|null, ip?: string|null, action?: string|null,
 *   expanded?: boolean|null, marked?: boolean}} Box
 * @typedef {{key: string, kind: "trunk"|"branch"|"link", state: string, segments: number[][][], label: string}} Link
 *   segments: polylines of [x, y] points
 * @typedef {{points: number[][], podKey: string|null, box: string, state: string}} Route
 *   the way a request takes from the Service to an address (along the connectors), and the box it ends in
 * @typedef {{ready: number, notReady: number, terminating: number}} Tally
 * @typedef {{
 *   width: number,
 *   rem: number,
 *   isExpanded: (slice: SliceView) => boolean,
 *   hits?: Record<string, number>,
 *   marked?: (podKey: string|null, ip: string|null) => boolean,
 *   markedService?: boolean,
 *   orphans?: PodView[],
 *   sent?: {sent: number, failed: number}|null,
 *   sliceFrom?: number,
 * }} LayoutOptions
 *   isExpanded: whether a slice is drawn endpoint by endpoint (else one bundle per node);
 *   hits: requests per endpoint IP; orphans: pods of the Service's namespace that match no Service;
 *   sliceFrom: the first slice drawn (a Service of more than SLICES_MAX slices is drawn a page at a time)
 * @typedef {{width: number, height: number, boxes: Box[], links: Link[], routes: Map<string, Route>,
 *   service: {x: number, y: number}, summary: string, rows: number, folded: number}} Layout
 */

/** Slices of at most this many endpoints are drawn open; fuller ones fold into bundles until opened. */
export const FOLD_OVER = 24;
/** Endpoint rows drawn at most (opened slices beyond it are drawn folded): the DOM stays bounded. */
export const ROWS_MAX = 400;
/** Slices drawn at once; the others are counted in a box before and after, which page through them. */
export const SLICES_MAX = 40;
/** Pods without an endpoint, and pods matching no Service, drawn per node (the rest are counted). */
export const EXTRA_PER_NODE = 8;

const STATES = /** @type {const} */ (["ready", "not-ready", "terminating"]);
const GLYPH = { ready: "✓", "not-ready": "✕", terminating: "⊘" };
const WORD = { ready: "READY", "not-ready": "NOT READY", terminating: "TERMINATING" };
/** What a pod that matches the selector but has no endpoint lacks, in a few words. */
const NO_ENDPOINT_WORDS = {
  "no-ip": "no IP yet",
  "missing-port": "no such port",
  terminal: "pod finished",
  "not-ready": "not ready",
  terminating: "terminating",
};
/** The node of pods that have none yet. */
const NO_NODE = "";

/** @param {string} s @returns {"ready"|"not-ready"|"terminating"} */
function stateOf(s) {
  return s === "ready" || s === "terminating" ? s : "not-ready";
}

/** @param {number} n @param {string} one @param {string} [many] */
function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || `${one}s`}`;
}

/** @param {Tally} t */
function tallyWords(t) {
  const parts = [`${t.ready} ready`];
  if (t.notReady) parts.push(`${t.notReady} not ready`);
  if (t.terminating) parts.push(`${t.terminating} terminating`);
  return parts.join(" · ");
}

/** The counts in the words that fit `n` characters (shorter forms when they do not). @param {Tally} t @param {number} n */
function tallyFitting(t, n) {
  const long = tallyWords(t);
  if (long.length <= n) return long;
  const parts = [`${t.ready} ready`];
  if (t.notReady) parts.push(`${t.notReady} ✕`);
  if (t.terminating) parts.push(`${t.terminating} ⊘`);
  const short = parts.join(" · ");
  return short.length <= n ? short : tallyGlyphs(t);
}

/** A slice's name without its Service's name in front (the rest tells slices apart). @param {string} slice @param {string} service */
function sliceSuffix(slice, service) {
  return slice.startsWith(`${service}-`) && slice.length > service.length + 1 ? `…-${slice.slice(service.length + 1)}` : slice;
}

/** The first of `variants` (longest first) that fits `width` px at `size`, else the last one fitted. @param {string[]} variants @param {number} size @param {number} width */
function firstFit(variants, size, width) {
  for (const v of variants) if (textWidth(v, size) <= width) return v;
  return fit(variants[variants.length - 1], size, width);
}

/** @param {Tally} t */
function tallyGlyphs(t) {
  return `✓${t.ready} ✕${t.notReady} ⊘${t.terminating}`;
}

/** @param {Tally} t @param {string} state */
function bump(t, state) {
  if (state === "ready") t.ready += 1;
  else if (state === "terminating") t.terminating += 1;
  else t.notReady += 1;
}

/** @param {Tally} t @param {string} state */
function countOf(t, state) {
  return state === "ready" ? t.ready : state === "terminating" ? t.terminating : t.notReady;
}

/** Labels worth showing on a pod that matches no Service (its template hash says nothing to a class). @param {PodView} pod */
function labelsText(pod) {
  return Object.entries(pod.labels || {})
    .filter(([k]) => k !== "pod-template-hash")
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/**
 * The first slice of the page of slices that holds `from` (pages of SLICES_MAX).
 * @param {number} count slices the Service has
 * @param {number} from
 */
export function sliceWindow(count, from) {
  const last = Math.max(0, Math.ceil(count / SLICES_MAX) - 1);
  return Math.min(last, Math.max(0, Math.floor(from / SLICES_MAX))) * SLICES_MAX;
}

/** @param {ServiceView} svc */
function portsLine(svc) {
  const p = (svc.ports || [])[0];
  if (!p) return "no ports";
  const more = svc.ports.length > 1 ? ` +${svc.ports.length - 1}` : "";
  return `:${p.port} → ${p.targetPort}/${p.protocol || "TCP"}${more}`;
}

/** @param {ServiceView} svc */
function addressLine(svc) {
  if (svc.type === "ExternalName") return `→ ${svc.externalName || "—"}`;
  if (svc.headless || svc.clusterIP === "None") return "headless (no ClusterIP)";
  return svc.clusterIP || "no ClusterIP";
}

/**
 * @typedef {{kind: "ep", slice: number, ep: EndpointView}
 *   | {kind: "bundle", slice: number, node: string, eps: EndpointView[], tally: Tally}
 *   | {kind: "no-endpoint", x: Excluded}
 *   | {kind: "orphan", pod: PodView}
 *   | {kind: "more", text: string, key: string}
 *   | {kind: "heading", text: string, key: string}} Row
 */

/**
 * Lay the Service out.
 * @param {Model} model
 * @param {ServiceView} svc
 * @param {LayoutOptions} opt
 * @returns {Layout}
 */
export function layoutTopology(model, svc, opt) {
  const r = opt.rem;
  const fs = { tag: 0.72 * r, meta: 0.78 * r, base: 0.88 * r, ip: 1.0 * r, title: 1.1 * r };
  const pad = 0.45 * r;
  const hits = opt.hits || {};
  const marked = opt.marked || (() => false);
  const ns = svc.namespace;
  /** @param {string|null|undefined} name */
  const podOf = (name) => (name ? model.pods[`${ns}/${name}`] || null : null);

  // ---- which slices are open, which rows each node holds
  const allSlices = svc.slices || [];
  const from = sliceWindow(allSlices.length, opt.sliceFrom || 0);
  const slices = allSlices.slice(from, from + SLICES_MAX);
  const before = allSlices.slice(0, from);
  const after = allSlices.slice(from + SLICES_MAX);
  let openRows = 0;
  /** @type {boolean[]} */
  const open = slices.map((s) => {
    const n = (s.endpoints || []).length;
    const want = opt.isExpanded(s) && n > 0;
    if (want && openRows + n <= ROWS_MAX) {
      openRows += n;
      return true;
    }
    return false;
  });
  /** @type {Map<string, Row[]>} node → its rows, in slice order */
  const nodes = new Map();
  /** @param {string} node */
  const rowsOf = (node) => {
    let rows = nodes.get(node);
    if (!rows) nodes.set(node, (rows = []));
    return rows;
  };
  /** @type {Set<string>} pods some drawn or counted endpoint stands for */
  const endpointPods = new Set();
  const total = { ready: 0, notReady: 0, terminating: 0 };
  /** @type {Tally[]} */
  const sliceTally = [];
  let folded = 0;
  slices.forEach((slice, i) => {
    const t = { ready: 0, notReady: 0, terminating: 0 };
    /** @type {Map<string, Row & {kind: "bundle"}>} */
    const bundles = new Map();
    for (const ep of slice.endpoints || []) {
      const state = stateOf(ep.state);
      bump(t, state);
      bump(total, state);
      if (ep.pod) endpointPods.add(ep.pod);
      const node = ep.node || (podOf(ep.pod) || { node: null }).node || NO_NODE;
      if (open[i]) {
        rowsOf(node).push({ kind: "ep", slice: i, ep });
        continue;
      }
      let b = bundles.get(node);
      if (!b) {
        b = { kind: "bundle", slice: i, node, eps: [], tally: { ready: 0, notReady: 0, terminating: 0 } };
        bundles.set(node, b);
        rowsOf(node).push(b);
      }
      b.eps.push(ep);
      bump(b.tally, state);
    }
    if (!open[i]) folded += (slice.endpoints || []).length;
    sliceTally.push(t);
  });
  for (const slice of [...before, ...after]) {
    for (const ep of slice.endpoints || []) {
      if (ep.pod) endpointPods.add(ep.pod);
      bump(total, stateOf(ep.state));
    }
  }
  // pods the selector matches that no slice lists, then pods of the namespace no Service selects
  /** @type {Map<string, number>} */
  const extras = new Map();
  /** @param {string} node @param {string} what @param {string} heading @param {Row} row */
  const addExtra = (node, what, heading, row) => {
    const id = `${node}|${what}`;
    const n = (extras.get(id) || 0) + 1;
    extras.set(id, n);
    const rows = rowsOf(node);
    if (n === 1 && heading) rows.push({ kind: "heading", text: heading, key: `h|${id}` });
    if (n <= EXTRA_PER_NODE) rows.push(row);
  };
  let noEndpoint = 0;
  for (const x of svc.excluded || []) {
    if (endpointPods.has(x.pod)) continue;
    noEndpoint += 1;
    const pod = podOf(x.pod);
    addExtra(x.node || (pod && pod.node) || NO_NODE, "no-endpoint", "", { kind: "no-endpoint", x });
  }
  const orphans = opt.orphans || [];
  for (const pod of orphans) addExtra(pod.node || NO_NODE, "orphan", "MATCH NO SERVICE", { kind: "orphan", pod });
  for (const [id, n] of extras) {
    if (n <= EXTRA_PER_NODE) continue;
    const [node, what] = [id.slice(0, id.lastIndexOf("|")), id.slice(id.lastIndexOf("|") + 1)];
    const text = what === "orphan" ? `+${n - EXTRA_PER_NODE} more matching no Service` : `+${n - EXTRA_PER_NODE} more without an endpoint`;
    // after the drawn ones of the same kind
    const rows = rowsOf(node);
    let at = rows.length;
    if (what === "no-endpoint") {
      const firstOrphan = rows.findIndex((row) => row.kind === "heading" || row.kind === "orphan");
      if (firstOrphan >= 0) at = firstOrphan;
    }
    rows.splice(at, 0, { kind: "more", text, key: `more|${id}` });
  }
  const nodeNames = [...nodes.keys()].sort((a, b) => (a === NO_NODE ? 1 : b === NO_NODE ? -1 : a < b ? -1 : a > b ? 1 : 0));

  // ---- columns (px): the Service with its slices beneath it | trunks | endpoints | nodes with their pods
  /** slices with rows get a trunk each, side by side in the gap after the slices */
  const trunked = slices.map((_, i) => nodeNames.some((n) => (nodes.get(n) || []).some((row) => (row.kind === "ep" || row.kind === "bundle") && row.slice === i)));
  const trunkCount = trunked.filter(Boolean).length;
  const W = Math.max(opt.width, 30 * r);
  const gapE = 1.3 * r;
  const ew = textWidth("✕ 10.244.100.250", fs.ip) + 2 * pad;
  // the trunks share a band that a narrow column squeezes (down to 1.2 rem) before the boxes
  const band = Math.max(1.2 * r, Math.min(4.2 * r, W - (7.5 * r + 1.6 * r + ew + gapE + 11 * r)));
  const trunkStep = trunkCount ? Math.min(0.5 * r, band / trunkCount) : 0;
  const gapL = 1.6 * r + trunkCount * trunkStep;
  /** the Service's trunk runs down its left edge; the slices hang from it, indented */
  const indent = 1.3 * r;
  // a narrow column (a lesson open beside it) takes room from the Service's column before the pods'
  let sw = Math.min(15 * r, Math.max(9.5 * r, 0.21 * W));
  let nodeW = W - (sw + gapL + ew + gapE);
  if (nodeW < 14 * r) {
    sw = Math.max(7.5 * r, sw - (14 * r - nodeW));
    nodeW = Math.max(11 * r, W - (sw + gapL + ew + gapE));
  }
  const sx = 0;
  const lx = sx + indent;
  const lw = sw - indent;
  const trunkX0 = sx + sw + 0.8 * r;
  const ex = sx + sw + gapL;
  const nx = ex + ew + gapE;
  const width = nx + nodeW;
  const podX = nx + pad;
  const podW = nodeW - 2 * pad;

  /** @type {Box[]} */
  const boxes = [];
  /** @type {Link[]} */
  const links = [];
  /** @type {Map<string, Route>} */
  const routes = new Map();

  /**
   * Text lines stacked from the top of a box; returns the lines and the height they take.
   * @param {number} x @param {number} y @param {{text: string, size: number, cls: string}[]} spec
   */
  function stack(x, y, spec) {
    let at = y + pad * 0.8;
    /** @type {Line[]} */
    const lines = [];
    for (const s of spec) {
      at += s.size * 1.18;
      lines.push({ text: s.text, x, y: at - s.size * 0.22, size: s.size, cls: s.cls });
    }
    return { lines, h: at - y + pad * 0.8 };
  }

  // ---- the Service
  const inner = sw - 2 * pad;
  const top = 0;
  const c = svc.counts || total;
  /** A count in the largest size that fits the box. @param {string} text @param {string} cls */
  const countLine = (text, cls) => {
    const size = [fs.base, fs.meta].find((z) => textWidth(text, z) <= inner) || fs.tag;
    return { text: fit(text, size, inner), size, cls };
  };
  /** @type {{text: string, size: number, cls: string}[]} */
  const svcSpec = [
    { text: "SERVICE", size: fs.tag, cls: "tag" },
    ...wrap(svc.name, fs.title, inner, 3).map((t) => ({ text: t, size: fs.title, cls: "name" })),
    { text: fit(addressLine(svc), fs.meta, inner), size: fs.meta, cls: "meta" },
    { text: fit(portsLine(svc), fs.meta, inner), size: fs.meta, cls: "meta" },
    countLine(`✓ ${c.ready} ready`, "n-ready"),
    countLine(`✕ ${c.notReady} not ready`, "n-not-ready"),
    countLine(`⊘ ${c.terminating} terminating`, "n-terminating"),
  ];
  if (svc.selector) {
    const sel = Object.entries(svc.selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    svcSpec.push({ text: "SELECTOR", size: fs.tag, cls: "tag" });
    svcSpec.push(...wrap(sel, fs.meta, inner, 2).map((t) => ({ text: t, size: fs.meta, cls: "meta" })));
  } else {
    svcSpec.push({ text: "NO SELECTOR", size: fs.tag, cls: "tag" });
  }
  if (opt.sent) svcSpec.push({ text: fit(`sent ${opt.sent.sent} · failed ${opt.sent.failed}`, fs.meta, inner), size: fs.meta, cls: "meta" });
  const svcText = stack(sx + pad, top, svcSpec);
  const svcBox = {
    key: "service",
    kind: /** @type {BoxKind} */ ("service"),
    x: sx,
    y: top,
    w: sw,
    h: svcText.h,
    state: svc.diagnosis ? "diagnosis" : "ok",
    lines: svcText.lines,
    label: `Service ${svc.name} in ${ns}, ${addressLine(svc)}, ${portsLine(svc)}: ${c.ready} ready, ${c.notReady} not ready, ${c.terminating} terminating endpoints`,
    marked: Boolean(opt.markedService),
  };
  boxes.push(svcBox);
  /** requests leave the Service at the foot of its trunk */
  const svcTrunkX = sx + indent / 2;
  const svcAnchor = top + svcText.h;
  let leftBottom = top + svcText.h;
  if (svc.diagnosis) {
    const d = stack(lx + pad, leftBottom + 0.6 * r, [
      { text: "NO TRAFFIC: WHY", size: fs.tag, cls: "tag" },
      ...wrap(svc.diagnosis.text, fs.meta, lw - 2 * pad, 8).map((t) => ({ text: t, size: fs.meta, cls: "meta" })),
    ]);
    boxes.push({
      key: "diagnosis",
      kind: "diagnosis",
      x: lx,
      y: leftBottom + 0.6 * r,
      w: lw,
      h: d.h,
      state: svc.diagnosis.code,
      lines: d.lines,
      label: `No ready endpoints: ${svc.diagnosis.text}`,
    });
    leftBottom += 0.6 * r + d.h;
  }

  // ---- the slices, stacked under the Service (a page of them, between what comes before and after)
  let ly = leftBottom + 0.9 * r;
  /** @param {import("../model.js").SliceView[]} hidden @param {"before"|"after"} where */
  const pager = (hidden, where) => {
    const n = hidden.reduce((a, sl) => a + (sl.endpoints || []).length, 0);
    const s = stack(lx + pad, ly, [
      ...wrap(where === "before" ? `▴ ${plural(hidden.length, "slice")} before` : `▾ ${plural(hidden.length, "more slice")}`, fs.base, lw - 2 * pad, 2).map((t) => ({ text: t, size: fs.base, cls: "action" })),
      { text: fit(plural(n, "endpoint"), fs.meta, lw - 2 * pad), size: fs.meta, cls: "meta" },
      { text: "press to show", size: fs.meta, cls: "meta" },
    ]);
    boxes.push({
      key: `slices-${where}`,
      kind: "more-slices",
      x: lx,
      y: ly,
      w: lw,
      h: s.h,
      state: "none",
      lines: s.lines,
      label: `${plural(hidden.length, "slice")} with ${plural(n, "endpoint")} ${where === "before" ? "before these" : "after these"}; press to draw them`,
      action: where === "before" ? "page|prev" : "page|next",
    });
    ly += s.h + 0.7 * r;
  };
  if (before.length) pager(before, "before");
  /** @type {number[]} */
  const sliceAnchor = [];
  slices.forEach((slice, i) => {
    const n = (slice.endpoints || []).length;
    const t = sliceTally[i];
    const foldable = n > FOLD_OVER;
    const room = lw - 2 * pad;
    /** @type {{text: string, size: number, cls: string}[]} */
    const spec = [
      { text: firstFit(["ENDPOINTSLICE", "SLICE"], fs.tag, room), size: fs.tag, cls: "tag" },
      ...wrap(slice.name, fs.base, room, 2).map((s) => ({ text: s, size: fs.base, cls: "name" })),
      { text: n ? firstFit([plural(n, "endpoint"), `${n} endpts`, String(n)], fs.meta, room) : firstFit(["no endpoints", "none"], fs.meta, room), size: fs.meta, cls: "meta" },
    ];
    if (n) spec.push({ text: fit(tallyGlyphs(t), fs.meta, room), size: fs.meta, cls: "meta" });
    if (foldable) spec.push({ text: open[i] ? "▾ fold" : firstFit([`▸ show all ${n}`, "▸ show all", "▸ show"], fs.meta, room), size: fs.meta, cls: "action" });
    const s = stack(lx + pad, ly, spec);
    boxes.push({
      key: `slice|${slice.name}`,
      kind: "slice",
      x: lx,
      y: ly,
      w: lw,
      h: s.h,
      state: n ? "slice" : "empty",
      lines: s.lines,
      label: `EndpointSlice ${slice.name}: ${n ? `${plural(n, "endpoint")}, ${tallyWords(t)}` : "no endpoints"}${foldable ? (open[i] ? "; press to fold" : "; folded, press to show every endpoint") : ""}`,
      action: foldable ? `slice|${slice.name}` : null,
      expanded: foldable ? open[i] : null,
    });
    sliceAnchor.push(ly + 1.6 * r);
    ly += s.h + 0.7 * r;
  });
  if (after.length) pager(after, "after");
  // Service → slices: a trunk down from the Service, one branch per slice
  if (slices.length) {
    links.push({
      key: "service-trunk",
      kind: "trunk",
      state: "neutral",
      segments: [
        [
          [svcTrunkX, svcAnchor],
          [svcTrunkX, sliceAnchor[sliceAnchor.length - 1]],
        ],
      ],
      label: "",
    });
    slices.forEach((slice, i) => {
      links.push({
        key: `service-branch|${slice.name}`,
        kind: "branch",
        state: "neutral",
        segments: [
          [
            [svcTrunkX, sliceAnchor[i]],
            [lx, sliceAnchor[i]],
          ],
        ],
        label: "",
      });
    });
  }

  // ---- nodes and their rows
  const rowH = 2.6 * r;
  const rowGap = 0.35 * r;
  const headH = 1.9 * r;
  let ny = top;
  /** @type {{minY: number, maxY: number}[]} */
  const trunkSpan = slices.map((_, i) => ({ minY: sliceAnchor[i], maxY: sliceAnchor[i] }));
  const trunkIndex = [];
  let k = 0;
  for (let i = 0; i < slices.length; i++) trunkIndex.push(trunked[i] ? k++ : -1);
  /** @param {number} i */
  const trunkX = (i) => trunkX0 + trunkIndex[i] * trunkStep;
  /** The way from the Service to a row of slice i at height y. @param {number} i @param {number} y @param {number} endX */
  const wayTo = (i, y, endX) => [
    [svcTrunkX, svcAnchor],
    [svcTrunkX, sliceAnchor[i]],
    [lx, sliceAnchor[i]],
    [lx + lw, sliceAnchor[i]],
    [trunkX(i), sliceAnchor[i]],
    [trunkX(i), y],
    [ex, y],
    [ex + ew, y],
    [endX, y],
  ];
  let rowCount = 0;
  for (const node of nodeNames) {
    const rows = nodes.get(node) || [];
    const nodeBox = { key: `node|${node}`, kind: /** @type {BoxKind} */ ("node"), x: nx, y: ny, w: nodeW, h: 0, state: node ? "node" : "no-node", lines: /** @type {Line[]} */ ([]), label: "" };
    boxes.push(nodeBox);
    const pods = rows.reduce((n, row) => n + (row.kind === "ep" || row.kind === "no-endpoint" || row.kind === "orphan" ? 1 : row.kind === "bundle" ? row.eps.length : 0), 0);
    const title = node ? `NODE ${node}` : "NO NODE (not scheduled)";
    const count = plural(pods, "pod");
    nodeBox.lines.push({ text: fit(title, fs.base, nodeW - 2 * pad - textWidth(` ${count}`, fs.meta)), x: nx + pad, y: ny + headH * 0.68, size: fs.base, cls: "name" });
    nodeBox.lines.push({ text: count, x: nx + nodeW - pad, y: ny + headH * 0.68, size: fs.meta, cls: "meta", anchor: "end" });
    nodeBox.label = `${node ? `Node ${node}` : "No node"}: ${count} drawn here`;
    let y = ny + headH;
    for (const row of rows) {
      if (row.kind === "heading" || row.kind === "more") {
        const h = 1.45 * r;
        boxes.push({
          key: `${node}|${row.key}`,
          kind: "note",
          x: podX,
          y,
          w: podW,
          h,
          state: row.kind,
          lines: [{ text: clip(row.text, fs.tag, podW), x: podX, y: y + h * 0.7, size: fs.tag, cls: row.kind === "heading" ? "tag" : "meta" }],
          label: row.text,
        });
        y += h + rowGap * 0.5;
        continue;
      }
      const cy = y + rowH / 2;
      const l1 = y + pad * 0.65 + fs.ip * 0.95;
      const l2 = y + rowH - pad * 0.75;
      rowCount += 1;
      if (row.kind === "ep") {
        const { ep } = row;
        const slice = slices[row.slice];
        const state = stateOf(ep.state);
        const pod = podOf(ep.pod);
        const podKey = ep.pod ? `${ns}/${ep.pod}` : null;
        const isMarked = marked(podKey, ep.ip);
        const h = hits[ep.ip];
        const epKey = `ep|${slice.name}|${ep.ip}`;
        boxes.push({
          key: epKey,
          kind: "endpoint",
          x: ex,
          y,
          w: ew,
          h: rowH,
          state,
          lines: [
            { text: `${GLYPH[state]} ${ep.ip}`, x: ex + pad, y: l1, size: fs.ip, cls: "ip" },
            { text: h ? `${WORD[state]} · ${plural(h, "hit")}` : WORD[state], x: ex + pad, y: l2, size: fs.tag, cls: "word" },
          ],
          label: `endpoint ${ep.ip}: ${WORD[state].toLowerCase()}${ep.reason ? ` (${ep.reason})` : ""}${h ? `, ${plural(h, "request")} received` : ""}`,
          ip: ep.ip,
          podKey,
          marked: isMarked,
        });
        const podName = ep.pod || "(no pod)";
        const status = pod ? `${pod.status} · ${pod.readyText}${pod.notReadyReason && state !== "ready" ? ` · ${pod.notReadyReason}` : ""}` : ep.pod ? "pod not in view" : "an address with no pod";
        const podBoxKey = `pod|${slice.name}|${ep.ip}`;
        boxes.push({
          key: podBoxKey,
          kind: "pod",
          x: podX,
          y,
          w: podW,
          h: rowH,
          state,
          lines: [
            { text: fit(podName, fs.base, podW - 2 * pad), x: podX + pad, y: l1, size: fs.base, cls: "name" },
            { text: clip(status, fs.meta, podW - 2 * pad), x: podX + pad, y: l2, size: fs.meta, cls: "meta" },
          ],
          label: `pod ${podName}${node ? ` on ${node}` : ""}: ${status.replaceAll(" · ", ", ")}${isMarked ? "; this step is about it" : ""}`,
          podKey,
          ip: ep.ip,
          marked: isMarked,
        });
        const word = WORD[state].toLowerCase();
        links.push({ key: `branch|${slice.name}|${ep.ip}`, kind: "branch", state, segments: [[[trunkX(row.slice), cy], [ex, cy]]], label: `${slice.name} → ${ep.ip}: ${word}` });
        links.push({ key: `link|${slice.name}|${ep.ip}`, kind: "link", state, segments: [[[ex + ew, cy], [podX, cy]]], label: `${ep.ip} → ${podName}: ${word}` });
        const span = trunkSpan[row.slice];
        span.minY = Math.min(span.minY, cy);
        span.maxY = Math.max(span.maxY, cy);
        if (!routes.has(ep.ip)) routes.set(ep.ip, { points: wayTo(row.slice, cy, podX + 1.2 * r), podKey, box: podBoxKey, state });
      } else if (row.kind === "bundle") {
        const slice = slices[row.slice];
        const t = row.tally;
        const n = row.eps.length;
        const id = `${slice.name}|${node}`;
        const h = row.eps.reduce((a, ep) => a + (hits[ep.ip] || 0), 0);
        const mixed = STATES.filter((s) => countOf(t, s) > 0);
        const state = mixed.length === 1 ? mixed[0] : "mixed";
        const isMarked = row.eps.some((ep) => marked(ep.pod ? `${ns}/${ep.pod}` : null, ep.ip));
        const action = `slice|${slice.name}`;
        boxes.push({
          key: `bundle|${id}`,
          kind: "bundle",
          x: ex,
          y,
          w: ew,
          h: rowH,
          state,
          lines: [
            { text: fit(`▸ ${plural(n, "endpoint")}`, fs.base, ew - 2 * pad), x: ex + pad, y: l1, size: fs.base, cls: "name" },
            { text: fit(tallyGlyphs(t) + (h ? ` · ${h} hits` : ""), fs.tag, ew - 2 * pad), x: ex + pad, y: l2, size: fs.tag, cls: "word" },
          ],
          label: `${plural(n, "endpoint")} of slice ${slice.name}${node ? ` on ${node}` : ""}: ${tallyWords(t)}; folded, press to show them`,
          action,
          expanded: false,
          marked: isMarked,
        });
        boxes.push({
          key: `bundle-pods|${id}`,
          kind: "bundle-pods",
          x: podX,
          y,
          w: podW,
          h: rowH,
          state,
          lines: [
            { text: fit(`${plural(n, "pod")} of ${ellipsize(sliceSuffix(slice.name, svc.name), Math.max(8, charsIn(podW - 2 * pad, fs.base) - 12))}`, fs.base, podW - 2 * pad), x: podX + pad, y: l1, size: fs.base, cls: "name" },
            { text: tallyFitting(t, charsIn(podW - 2 * pad, fs.meta)), x: podX + pad, y: l2, size: fs.meta, cls: "meta" },
          ],
          label: `${plural(n, "pod")} of slice ${slice.name}${node ? ` on ${node}` : ""}, folded: ${tallyWords(t)}`,
          action,
          expanded: false,
          marked: isMarked,
        });
        // one strand per state present, side by side: solid ready, dashed not ready, striped terminating
        const gap = 0.36 * r;
        mixed.forEach((s, j) => {
          const dy = (j - (mixed.length - 1) / 2) * gap;
          const words = `${countOf(t, s)} ${WORD[s].toLowerCase()}`;
          links.push({ key: `branch|${id}|${s}`, kind: "branch", state: s, segments: [[[trunkX(row.slice), cy + dy], [ex, cy + dy]]], label: `${slice.name} → ${words} on ${node || "no node"}` });
          links.push({ key: `link|${id}|${s}`, kind: "link", state: s, segments: [[[ex + ew, cy + dy], [podX, cy + dy]]], label: words });
        });
        const span = trunkSpan[row.slice];
        span.minY = Math.min(span.minY, cy - gap);
        span.maxY = Math.max(span.maxY, cy + gap);
        for (const ep of row.eps) {
          if (!routes.has(ep.ip)) {
            routes.set(ep.ip, { points: wayTo(row.slice, cy, podX + 1.2 * r), podKey: ep.pod ? `${ns}/${ep.pod}` : null, box: `bundle-pods|${id}`, state: stateOf(ep.state) });
          }
        }
      } else if (row.kind === "no-endpoint") {
        const { x } = row;
        const pod = podOf(x.pod);
        const podKey = `${ns}/${x.pod}`;
        const isMarked = marked(podKey, x.ip);
        const words = NO_ENDPOINT_WORDS[/** @type {keyof typeof NO_ENDPOINT_WORDS} */ (x.reason)] || x.reason;
        boxes.push({
          key: `noep|${x.pod}`,
          kind: "no-endpoint",
          x: ex,
          y,
          w: ew,
          h: rowH,
          state: "none",
          lines: [
            { text: "NO ENDPOINT", x: ex + pad, y: l1, size: fs.base, cls: "name" },
            { text: fit(words, fs.tag, ew - 2 * pad), x: ex + pad, y: l2, size: fs.tag, cls: "word" },
          ],
          label: `no endpoint for ${x.pod}: ${x.text}`,
          podKey,
          marked: isMarked,
        });
        boxes.push({
          key: `pod|noep|${x.pod}`,
          kind: "pod",
          x: podX,
          y,
          w: podW,
          h: rowH,
          state: "no-endpoint",
          lines: [
            { text: fit(x.pod, fs.base, podW - 2 * pad), x: podX + pad, y: l1, size: fs.base, cls: "name" },
            { text: clip(`${pod ? `${pod.status} · ` : ""}${x.text}`, fs.meta, podW - 2 * pad), x: podX + pad, y: l2, size: fs.meta, cls: "meta" },
          ],
          label: `pod ${x.pod}${node ? ` on ${node}` : ""} matches the selector but gets no traffic: ${x.text}${isMarked ? "; this step is about it" : ""}`,
          podKey,
          ip: x.ip,
          marked: isMarked,
        });
      } else if (row.kind === "orphan") {
        const { pod } = row;
        const isMarked = marked(pod.key, pod.ip);
        const labels = labelsText(pod);
        boxes.push({
          key: `orphan|${pod.key}`,
          kind: "orphan",
          x: podX,
          y,
          w: podW,
          h: rowH,
          state: pod.terminating ? "terminating" : "orphan",
          lines: [
            { text: fit(pod.name, fs.base, podW - 2 * pad), x: podX + pad, y: l1, size: fs.base, cls: "name" },
            { text: clip(`no Service · ${labels || "no labels"}`, fs.meta, podW - 2 * pad), x: podX + pad, y: l2, size: fs.meta, cls: "meta" },
          ],
          label: `pod ${pod.name}${node ? ` on ${node}` : ""} matches no Service; labels ${labels || "none"}${isMarked ? "; this step is about it" : ""}`,
          podKey: pod.key,
          ip: pod.ip,
          marked: isMarked,
        });
      }
      y += rowH + rowGap;
    }
    nodeBox.h = y - ny + pad - rowGap;
    ny += nodeBox.h + 0.8 * r;
  }
  // slice → its rows: a stub to the slice's trunk, the trunk along its rows
  slices.forEach((slice, i) => {
    if (!trunked[i]) return;
    const x = trunkX(i);
    const span = trunkSpan[i];
    links.push({
      key: `trunk|${slice.name}`,
      kind: "trunk",
      state: "neutral",
      segments: [
        [
          [lx + lw, sliceAnchor[i]],
          [x, sliceAnchor[i]],
        ],
        [
          [x, span.minY],
          [x, span.maxY],
        ],
      ],
      label: "",
    });
  });

  const height = Math.max(leftBottom, ly - 0.7 * r, ny - 0.8 * r, 4 * r) + pad;
  const nEp = total.ready + total.notReady + total.terminating;
  const summary =
    `${svc.name}: ${plural(nEp, "endpoint")} in ${plural(allSlices.length, "slice")} (${tallyWords(total)})` +
    `${before.length || after.length ? `, slices ${from + 1}–${from + slices.length} drawn` : ""}` +
    `${folded ? `, ${folded} of them folded into bundles` : ""}; ` +
    `${plural(noEndpoint, "matching pod")} without an endpoint; ${plural(orphans.length, "pod")} in ${ns} ${orphans.length === 1 ? "matches" : "match"} no Service.`;
  return { width, height, boxes, links, routes, service: { x: svcTrunkX, y: svcAnchor }, summary, rows: rowCount, folded };
}
