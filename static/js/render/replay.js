// @ts-check
/** The replay bar (play/pause, speed, scrubber, where a cut recording stopped) and the Record button for live sessions. */

import { el, part, setText } from "../dom.js";

/**
 * @typedef {import("../http.js").HttpResult} HttpResult
 * @typedef {import("../api.js").ReplayState} ReplayState
 * @typedef {import("../api.js").RecordState} RecordState
 * @typedef {{
 *   replayState: () => Promise<HttpResult>, play: () => Promise<HttpResult>, pause: () => Promise<HttpResult>,
 *   speed: (x: number) => Promise<HttpResult>, seek: (t: number) => Promise<HttpResult>,
 *   recordState: () => Promise<HttpResult>, recordStart: () => Promise<HttpResult>, recordStop: () => Promise<HttpResult>,
 * }} ReplayHandlers
 */

export const SPEEDS = [0.5, 1, 2, 4, 8, 16];
const POLL_MS = 1000;

/** "1:05" from seconds. @param {number} s */
export function duration(s) {
  const t = Math.max(0, Math.floor(Number(s) || 0));
  const m = Math.floor(t / 60);
  const h = Math.floor(m / 60);
  const ss = String(t % 60).padStart(2, "0");
  return h ? `${h}:${String(m % 60).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * @param {HTMLElement} bar the replay bar
 * @param {HTMLElement} recordBox the record button's box in the header
 * @param {ReplayHandlers} handlers
 */
export function createReplay(bar, recordBox, handlers) {
  const playButton = part(bar, "play");
  const speed = /** @type {HTMLSelectElement} */ (part(bar, "speed"));
  const scrub = /** @type {HTMLInputElement} */ (part(bar, "scrub"));
  const recordButton = part(recordBox, "record");
  /** @type {ReplayState|null} */
  let replay = null;
  /** @type {RecordState|null} */
  let record = null;
  let dragging = false;
  let mode = "";
  /** @type {ReturnType<typeof setInterval>|null} */
  let poller = null;

  speed.replaceChildren(...SPEEDS.map((x) => el("option", { text: `${x}×`, attrs: { value: String(x) } })));

  playButton.addEventListener("click", async () => {
    if (!replay) return;
    show(await (replay.playing ? handlers.pause() : handlers.play()));
  });
  speed.addEventListener("change", async () => show(await handlers.speed(Number(speed.value))));
  scrub.addEventListener("input", () => {
    dragging = true;
    setText(part(bar, "time"), `${duration(Number(scrub.value))} / ${duration(replay ? replay.duration : 0)}`);
  });
  // seek once, on release (keyboard changes fire "change" too)
  scrub.addEventListener("change", async () => {
    dragging = false;
    show(await handlers.seek(Number(scrub.value)));
  });
  recordButton.addEventListener("click", async () => {
    const r = await (record && record.recording ? handlers.recordStop() : handlers.recordStart());
    showRecord(r);
  });

  /** @param {HttpResult} r */
  function show(r) {
    if (!r.ok || !r.body) {
      setText(part(bar, "msg"), r.status === 404 ? "" : r.message);
      return;
    }
    replay = r.body;
    const s = /** @type {ReplayState} */ (r.body);
    bar.dataset.playing = String(s.playing);
    setText(playButton, s.playing ? "❚❚ Pause" : "▶ Play");
    playButton.setAttribute("aria-label", s.playing ? "pause the replay" : "play the replay");
    if (document.activeElement !== speed) speed.value = String(s.speed);
    if (!SPEEDS.includes(s.speed) && document.activeElement !== speed) {
      speed.append(el("option", { text: `${s.speed}×`, attrs: { value: String(s.speed) } }));
      speed.value = String(s.speed);
    }
    scrub.max = String(s.duration || 0);
    if (!dragging) {
      scrub.value = String(s.position || 0);
      setText(part(bar, "time"), `${duration(s.position)} / ${duration(s.duration)}`);
    }
    const stopped = part(bar, "stopped");
    stopped.hidden = !s.stoppedAt;
    setText(stopped, s.stoppedAt ? `⚠ The recording was cut: it stops at ${s.stoppedAt}` : "");
  }

  /** @param {HttpResult} r */
  function showRecord(r) {
    if (r.status === 404) {
      recordBox.hidden = true;
      return;
    }
    recordBox.hidden = false;
    if (!r.ok || !r.body) {
      setText(part(recordBox, "record-info"), r.message);
      return;
    }
    record = r.body;
    const s = /** @type {RecordState} */ (r.body);
    recordBox.dataset.recording = String(s.recording);
    setText(recordButton, s.recording ? "■ Stop recording" : "● Record");
    const name = s.path ? s.path.split(/[\\/]/).pop() || s.path : "";
    const info = s.recording
      ? `REC ${name} · ${s.items} items`
      : name
        ? `saved ${name} · ${s.items} items`
        : "";
    setText(part(recordBox, "record-info"), [info, s.message || ""].filter(Boolean).join(" · "));
  }

  async function poll() {
    if (mode === "replay") show(await handlers.replayState());
    else if (record && record.recording) showRecord(await handlers.recordState());
  }

  return {
    /** @param {string} clusterMode meta.cluster.mode */
    async setMode(clusterMode) {
      if (clusterMode === mode) return;
      mode = clusterMode;
      bar.hidden = mode !== "replay";
      document.documentElement.classList.toggle("replaying", mode === "replay");
      if (!poller) poller = setInterval(poll, POLL_MS);
      if (mode === "replay") {
        recordBox.hidden = true;
        show(await handlers.replayState());
      } else {
        showRecord(await handlers.recordState());
      }
    },
    get replay() {
      return replay;
    },
    get record() {
      return record;
    },
  };
}
