// @ts-check
/** Which endpoint a simulated request reaches: one ready endpoint, uniformly at random (kube-proxy iptables). Pure. */

/**
 * @typedef {import("./model.js").EndpointView} EndpointView
 * @typedef {import("./model.js").ServiceView} ServiceView
 * @typedef {{ok: true, endpoint: EndpointView, candidates: number} | {ok: false, endpoint: null, candidates: 0, reason: string}} Route
 */

/** The words a failed request shows. */
export const NO_READY = "no ready endpoints";

/**
 * Whether an endpoint may get traffic: ready, and not terminating (kube-proxy gives not-ready and
 * terminating endpoints nothing while some endpoint is ready; here they never get any).
 * @param {EndpointView} ep
 */
export function receivesTraffic(ep) {
  return ep.ready === true && ep.terminating !== true && ep.state === "ready";
}

/**
 * Every endpoint of the Service's slices that may get traffic, once per address.
 * @param {ServiceView} svc
 * @returns {EndpointView[]}
 */
export function readyEndpoints(svc) {
  /** @type {Map<string, EndpointView>} */
  const out = new Map();
  for (const slice of svc.slices || []) {
    for (const ep of slice.endpoints || []) {
      if (receivesTraffic(ep) && !out.has(ep.ip)) out.set(ep.ip, ep);
    }
  }
  return [...out.values()];
}

/**
 * Pick one endpoint uniformly at random among the candidates that may get traffic.
 * @param {EndpointView[]} endpoints any endpoints; the ones that may not get traffic are skipped
 * @param {() => number} [random] a number in [0, 1), Math.random by default
 * @returns {EndpointView|null} null when none may get traffic
 */
export function pickEndpoint(endpoints, random = Math.random) {
  const ok = endpoints.filter(receivesTraffic);
  if (ok.length === 0) return null;
  const i = Math.min(ok.length - 1, Math.floor(random() * ok.length));
  return ok[i];
}

/**
 * Where one request to the Service goes.
 * @param {ServiceView} svc
 * @param {() => number} [random]
 * @returns {Route}
 */
export function route(svc, random = Math.random) {
  const candidates = readyEndpoints(svc);
  const endpoint = pickEndpoint(candidates, random);
  if (!endpoint) return { ok: false, endpoint: null, candidates: 0, reason: NO_READY };
  return { ok: true, endpoint, candidates: candidates.length };
}

/**
 * "80 → 8080" for the Service's first port (what a client dials → what the pod listens on).
 * @param {ServiceView} svc
 */
export function portPath(svc) {
  const p = (svc.ports || [])[0];
  if (!p) return "no port";
  return `:${p.port} → targetPort ${p.targetPort}`;
}
