// @ts-check
/** The only owner of the EventSource: opens /events, resumes from the last seq, reports its state. */

/**
 * @typedef {"connecting"|"live"|"reconnecting"|"stale"} LinkState
 * @typedef {{state: LinkState, since: number, attempt: number, lastError: string}} LinkStatus
 * @typedef {{type: "snapshot"|"delta", data: any, seq: number}} StreamMessage
 * @typedef {{
 *   url?: string,
 *   getSeq: () => number|null,
 *   lastEventId?: string,
 *   staleAfterMs?: number,
 *   minDelayMs?: number,
 *   maxDelayMs?: number,
 * }} ConnectionOptions
 */

/**
 * @param {ConnectionOptions} options
 */
export function createConnection(options) {
  const url = options.url || "events";
  const staleAfterMs = options.staleAfterMs ?? 15000;
  const minDelay = options.minDelayMs ?? 400;
  const maxDelay = options.maxDelayMs ?? 10000;

  /** @type {EventSource|null} */
  let source = null;
  /** @type {ReturnType<typeof setTimeout>|null} */
  let retryTimer = null;
  /** @type {ReturnType<typeof setTimeout>|null} */
  let staleTimer = null;
  let attempt = 0;
  let stopped = false;
  /** @type {LinkStatus} */
  let status = { state: "connecting", since: Date.now(), attempt: 0, lastError: "" };
  /** @type {Set<(s: LinkStatus) => void>} */
  const stateListeners = new Set();
  /** @type {Set<(m: StreamMessage) => void>} */
  const messageListeners = new Set();
  /** Every state change, oldest first (kept short), so tests and curious users can see the history. */
  /** @type {{state: LinkState, at: number}[]} */
  const history = [{ state: "connecting", at: status.since }];
  // Ids are "<instance>.<seq>": a seq means something only to the server run that numbered it, so
  // a resume names it (another replica, or a restarted server, answers with a snapshot).
  let instance = instanceOf(options.lastEventId || "");

  /** @param {LinkState} state @param {string} [error] */
  function setState(state, error) {
    if (status.state === state && !error) return;
    // "reconnecting" keeps the time the link was first lost, so the badge says since when data may be old
    const keepSince =
      (state === "reconnecting" || state === "stale") &&
      (status.state === "reconnecting" || status.state === "stale");
    status = {
      state,
      since: keepSince ? status.since : Date.now(),
      attempt,
      lastError: error ?? status.lastError,
    };
    if (history[history.length - 1].state !== state) {
      history.push({ state, at: Date.now() });
      if (history.length > 50) history.splice(0, history.length - 50);
    }
    for (const fn of stateListeners) fn(status);
  }

  function streamUrl() {
    const seq = options.getSeq();
    if (seq === null || seq === undefined) return url;
    const sep = url.includes("?") ? "&" : "?";
    const id = instance ? `${instance}.${seq}` : String(seq);
    return `${url}${sep}lastEventId=${encodeURIComponent(id)}`;
  }

  function open() {
    if (stopped) return;
    retryTimer = null;
    const es = new EventSource(streamUrl());
    source = es;
    es.addEventListener("open", () => {
      if (source !== es) return;
      attempt = 0;
      clearStaleTimer();
      setState("live", "");
    });
    es.addEventListener("error", () => {
      if (source !== es) return;
      // The browser would retry by itself, but we want our own backoff and resume point.
      lost("the stream closed");
    });
    es.addEventListener("snapshot", (ev) => handle(es, "snapshot", /** @type {MessageEvent} */ (ev)));
    es.addEventListener("delta", (ev) => handle(es, "delta", /** @type {MessageEvent} */ (ev)));
  }

  /**
   * @param {EventSource} es
   * @param {"snapshot"|"delta"} type
   * @param {MessageEvent} ev
   */
  function handle(es, type, ev) {
    if (source !== es) return;
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      lost("an unreadable message");
      return;
    }
    const seq = Number(data && data.seq);
    if (type === "delta") {
      const have = options.getSeq();
      if (have !== null && seq <= have) return; // already applied (a replay after resume)
      if (have === null || seq !== have + 1) {
        lost(`a gap in the stream (have ${have}, got ${seq})`);
        return;
      }
    }
    if (type === "snapshot") instance = instanceOf(ev.lastEventId);
    if (status.state !== "live") {
      attempt = 0;
      clearStaleTimer();
      setState("live", "");
    }
    for (const fn of messageListeners) fn({ type, data, seq });
  }

  /** @param {string} why */
  function lost(why) {
    if (source) {
      source.close();
      source = null;
    }
    if (stopped) return;
    attempt += 1;
    setState(status.state === "stale" ? "stale" : "reconnecting", why);
    if (!staleTimer) {
      staleTimer = setTimeout(() => {
        staleTimer = null;
        if (status.state === "reconnecting") setState("stale");
      }, staleAfterMs);
    }
    const base = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt - 1, 8));
    const delay = base * (0.75 + Math.random() * 0.5);
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = setTimeout(open, delay);
  }

  function clearStaleTimer() {
    if (staleTimer) {
      clearTimeout(staleTimer);
      staleTimer = null;
    }
  }

  return {
    /** Open the stream; `lastEventId` ("<instance>.<seq>", from a fetched snapshot) says where to resume. @param {string|null} [lastEventId] */
    start(lastEventId) {
      if (lastEventId) instance = instanceOf(lastEventId);
      stopped = false;
      if (!source && !retryTimer) open();
    },
    stop() {
      stopped = true;
      if (source) source.close();
      source = null;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      clearStaleTimer();
    },
    /** Drop the stream and reconnect from the current seq (e.g. after a failed delta). @param {string} why */
    resync(why) {
      lost(why);
    },
    /** @param {(s: LinkStatus) => void} fn */
    onState(fn) {
      stateListeners.add(fn);
      fn(status);
      return () => stateListeners.delete(fn);
    },
    /** @param {(m: StreamMessage) => void} fn */
    onMessage(fn) {
      messageListeners.add(fn);
      return () => messageListeners.delete(fn);
    },
    get status() {
      return status;
    },
    history,
  };
}

/** The server instance in an SSE id "<instance>.<seq>" ("" for a bare seq). @param {string} id */
function instanceOf(id) {
  const dot = id.lastIndexOf(".");
  return dot > 0 ? id.slice(0, dot) : "";
}
