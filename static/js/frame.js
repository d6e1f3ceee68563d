// @ts-check
/**
 * One requestAnimationFrame for the whole page: every frame runs its reads (layout is clean at the
 * start of a frame, so they force nothing), then its writes. Nothing reads layout after a write.
 */

/** @typedef {"idle"|"read"|"write"} Phase */

/** @type {(() => void)[]} */
let reads = [];
/** @type {(() => void)[]} */
let writes = [];
let requested = false;
let token = 0;
/** @type {Phase} */
let phase = "idle";
let frames = 0;

function request() {
  if (requested) return;
  requested = true;
  const mine = ++token;
  const go = () => {
    if (mine === token && requested) run();
  };
  // requestAnimationFrame does not run in a hidden tab: the model must still be drawn when it comes back
  if (document.hidden) setTimeout(go, 50);
  else requestAnimationFrame(go);
}

document.addEventListener("visibilitychange", () => {
  if (!requested) return;
  requested = false;
  request();
});

function run() {
  requested = false;
  frames += 1;
  const r = reads;
  reads = [];
  phase = "read";
  for (const fn of r) guarded(fn);
  // writes asked for by the reads run in this same frame
  const w = writes;
  writes = [];
  phase = "write";
  for (const fn of w) guarded(fn);
  phase = "idle";
}

/** @param {() => void} fn */
function guarded(fn) {
  try {
    fn();
  } catch (err) {
    console.error(err);
  }
}

/** Run `fn` at the start of the next frame, before any write (for measuring, scrolling). @param {() => void} fn */
export function read(fn) {
  reads.push(fn);
  request();
}

/** Run `fn` in the next frame, after the reads. @param {() => void} fn */
export function write(fn) {
  writes.push(fn);
  request();
}

/** Where the current frame is (tests check that no layout is read in the write phase). */
export const frame = {
  get phase() {
    return phase;
  },
  get frames() {
    return frames;
  },
};

/** Give the browser a turn (input, paint) between chunks of work. @returns {Promise<void>} */
export function yieldToBrowser() {
  const s = /** @type {any} */ (globalThis).scheduler;
  if (s && typeof s.yield === "function") return s.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}
