// @ts-check
/** The reducer: snapshot + delta ops → the view model, exactly as docs/view-model.md says. Pure. */

/**
 * @typedef {{cluster: {mode: string, name: string, server: string, namespaces: string[], readOnly: boolean},
 *   connection: {state: string, message: string, since: number|null, problems: string[]},
 *   actions: boolean, namespaces: string[], timelineLimit: number, classroom?: ClassroomState|null}} Meta
 * @typedef {{services: string[], pods: string[], ips: string[], selectors?: Record<string,string>[]}} Highlight
 * @typedef {{name: string, title: string, summary: string, step: number, total: number,
 *   stepTitle: string|null, narration: string|null, highlight: Highlight|null,
 *   checks: {text: string, ok: boolean}[], busy: boolean}} ScenarioState
 * @typedef {{presenting: boolean, scenario: ScenarioState|null}} ClassroomState
 * @typedef {{key: string, namespace: string, name: string, replicas: number, readyReplicas: number,
 *   updatedReplicas: number, availableReplicas: number, selector: Record<string,string>|null,
 *   services: string[]}} DeploymentView
 * @typedef {{ip: string, pod: string|null, node: string|null, zone?: string|null, state: string,
 *   ready: boolean, serving: boolean, terminating: boolean, reason: string|null}} EndpointView
 * @typedef {{name: string, addressType: string, managedBy?: string,
 *   ports: {name: string, port: number, protocol: string}[], endpoints: EndpointView[]}} SliceView
 * @typedef {{ip: string, pod?: string|null, node?: string|null}} LegacyAddress
 * @typedef {{addresses: LegacyAddress[], notReadyAddresses: LegacyAddress[],
 *   ports: {name: string, port: number, protocol: string}[]}} LegacySubset
 * @typedef {{pod: string, ip: string|null, node: string|null, reason: string, text: string}} Excluded
 * @typedef {{key: string, namespace: string, name: string, type: string, clusterIP: string|null,
 *   headless: boolean, externalName: string|null, selector: Record<string,string>|null,
 *   publishNotReadyAddresses: boolean,
 *   ports: {name: string, port: number, targetPort: number|string, protocol: string}[],
 *   slices: SliceView[], endpoints: {overCapacity: boolean, subsets: LegacySubset[]}|null,
 *   excluded: Excluded[], counts: {ready: number, notReady: number, terminating: number, slices: number},
 *   diagnosis: {code: string, text: string}|null}} ServiceView
 * @typedef {{key: string, namespace: string, name: string, ip: string|null, node: string|null,
 *   phase: string, status: string, ready: boolean, readyText: string, terminating: boolean,
 *   notReadyReason: string|null, labels: Record<string,string>,
 *   owner: {kind: string, name: string}|null, services: string[], endpointOf: string[],
 *   created: string|null}} PodView
 * @typedef {{id: number, time: number, kind: string, service?: string|null, ip?: string|null,
 *   pod?: string|null, text: string}} TimelineEntry
 * @typedef {{seq: number, meta: Meta, services: Record<string, ServiceView>,
 *   pods: Record<string, PodView>, deployments: Record<string, DeploymentView>, timeline: TimelineEntry[]}} Model
 * @typedef {"services"|"pods"|"deployments"} Coll
 * @typedef {{op: "put", coll: Coll, key: string, value: any}
 *   | {op: "del", coll: Coll, key: string}
 *   | {op: "timeline", entry: TimelineEntry}
 *   | {op: "timeline-clear"}
 *   | {op: "meta", value: Meta}} Op
 * @typedef {{seq: number, ops: Op[]}} Delta
 * @typedef {{services: Set<string>, pods: Set<string>, deployments: Set<string>, timeline: boolean,
 *   meta: boolean, all: boolean}} Changes
 */

/** The keyed collections of the model, in the order the contract lists them. */
export const COLLECTIONS = /** @type {const} */ (["services", "pods", "deployments"]);

/** @returns {Changes} */
export function noChanges() {
  return { services: new Set(), pods: new Set(), deployments: new Set(), timeline: false, meta: false, all: false };
}

/**
 * A model from a whole snapshot (a fresh object; the input is not kept).
 * @param {any} snap
 * @returns {Model}
 */
export function fromSnapshot(snap) {
  return {
    seq: Number(snap.seq) || 0,
    meta: snap.meta,
    services: { ...(snap.services || {}) },
    pods: { ...(snap.pods || {}) },
    deployments: { ...(snap.deployments || {}) },
    timeline: Array.isArray(snap.timeline) ? snap.timeline.slice() : [],
  };
}

/**
 * Apply one delta. Returns null when `delta.seq` is not `model.seq + 1` (the caller must resync).
 * The input model is not modified (untouched collections are shared with the result), unless
 * `inPlace`: then the model itself is updated, which a page with 10,000 pods needs (copying its
 * collections for every delta would cost more than drawing it).
 * @param {Model} model
 * @param {Delta} delta
 * @param {boolean} [inPlace]
 * @returns {{model: Model, changes: Changes} | null}
 */
export function applyDelta(model, delta, inPlace = false) {
  if (delta.seq !== model.seq + 1) return null;
  const changes = noChanges();
  /** @type {Model} */
  const next = inPlace ? model : { ...model };
  next.seq = delta.seq;
  /** @type {Set<string>} collections already copied for this delta (copy on first write) */
  const copied = new Set(inPlace ? COLLECTIONS : []);
  let timelineCopied = inPlace;
  for (const op of delta.ops || []) {
    if (op.op === "put" || op.op === "del") {
      const name = op.coll;
      if (!COLLECTIONS.includes(name)) continue; // an unknown collection: ignore rather than corrupt the model
      /** @type {Record<string, any>} the three collections differ in value type, not in shape */
      const target = next;
      if (!copied.has(name)) {
        target[name] = { ...(target[name] || {}) };
        copied.add(name);
      }
      changes[name].add(op.key);
      const coll = target[name];
      if (op.op === "put") coll[op.key] = op.value;
      else delete coll[op.key];
    } else if (op.op === "timeline") {
      if (!timelineCopied) {
        next.timeline = next.timeline.slice();
        timelineCopied = true;
      }
      next.timeline.unshift(op.entry);
      const limit = next.meta ? Number(next.meta.timelineLimit) : 0;
      if (limit > 0 && next.timeline.length > limit) next.timeline.length = limit;
      changes.timeline = true;
    } else if (op.op === "timeline-clear") {
      next.timeline = [];
      timelineCopied = true;
      changes.timeline = true;
    } else if (op.op === "meta") {
      next.meta = op.value;
      changes.meta = true;
    }
  }
  return { model: next, changes };
}

/**
 * The whole reducer: a `snapshot` message replaces the model, a `delta` extends it (in place when asked).
 * @param {Model|null} model
 * @param {{type: "snapshot"|"delta", data: any}} message
 * @param {boolean} [inPlace]
 * @returns {{model: Model, changes: Changes} | null} null on a seq gap
 */
export function reduce(model, message, inPlace = false) {
  if (message.type === "snapshot" || !model) {
    if (message.type !== "snapshot") return null;
    const changes = noChanges();
    changes.all = true;
    return { model: fromSnapshot(message.data), changes };
  }
  return applyDelta(model, message.data, inPlace);
}
