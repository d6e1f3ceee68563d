// @ts-check
/**
 * The lesson panel: pick a scenario, then step through it (narration, checks, what changed) as presenter,
 * viewer or replay. A Next pressed while a step plays is queued and sent when the step has played out.
 */

import { clock, el, part, setText } from "../dom.js";
import { reconcile } from "./keyed.js";

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {{text: string, ok: boolean, pending?: boolean, problems?: string[]}} Check
 * @typedef {import("../model.js").ScenarioState & {checks: Check[], error?: string|null, commands?: string[]}} LessonState
 * @typedef {import("../api.js").ScenarioInfo} ScenarioInfo
 * @typedef {import("../http.js").HttpResult} HttpResult
 * @typedef {{
 *   list: () => Promise<HttpResult>,
 *   start: (name: string) => Promise<HttpResult>,
 *   next: () => Promise<HttpResult>,
 *   back: () => Promise<HttpResult>,
 *   restart: () => Promise<HttpResult>,
 *   stop: () => Promise<HttpResult>,
 *   isViewer: () => boolean,
 *   isReplay: () => boolean,
 *   onStep: (state: LessonState|null) => void,
 *   onSettled: (state: LessonState) => void,
 * }} LessonHandlers
 */

/** How many of the step's timeline entries "What changed" may list (as many as fit are shown). */
const CHANGES_SHOWN = 8;
/** How long the page waits for the stream to show a step the server said it started (ms). */
const STEP_SHOWN_WITHIN_MS = 10_000;
/** How long a queued Next waits before it is sent again after the server answered "busy" (ms). */
const BUSY_RETRY_MS = 1_000;

/** A size class for the narration, so a long one still fits the panel and a short one is large. @param {string} text */
export function narrationSize(text) {
  const n = text.length;
  return n > 300 ? "xl" : n > 240 ? "long" : n > 170 ? "mid" : "short";
}

/** The mark and words of one check. @param {Check} c */
export function checkView(c) {
  if (c.pending) return { state: "pending", mark: "…", text: c.text, label: "pending: judged when the step has played out" };
  const problems = Array.isArray(c.problems) ? c.problems : [];
  if (c.ok) return { state: "true", mark: "✓", text: c.text, label: "passed" };
  return { state: "false", mark: "✗", text: problems.length ? `${c.text} (${problems.join("; ")})` : c.text, label: "failed" };
}

/**
 * What to bring into view for the step's highlight: the first pod it names, in the Service that lists
 * or selects it (or, selected by none, among the pods matching no Service), else the first Service it
 * names (in page order); null when it names nothing there is.
 * @param {Model} model
 * @param {{pods: Set<string>, service: (key: string) => boolean}} highlight
 * @param {string[]} order the Services' keys in page order
 * @returns {{service: string|null, podKey?: string}|null}
 */
export function revealTarget(model, highlight, order) {
  for (const podKey of highlight.pods) {
    const pod = model.pods[podKey];
    if (!pod) continue;
    const home = (pod.endpointOf && pod.endpointOf[0]) || (pod.services && pod.services[0]);
    return { service: home || null, podKey };
  }
  const first = order.find((k) => highlight.service(k));
  return first ? { service: first } : null;
}

/**
 * @param {HTMLElement} root the lesson <section> (see templates/index.html)
 * @param {LessonHandlers} handlers
 */
export function createLesson(root, handlers) {
  const pick = /** @type {HTMLSelectElement} */ (part(root, "pick"));
  const msg = part(root, "msg");
  const nextButton = part(root, "next");
  /** @type {ScenarioInfo[]} */
  let catalogue = [];
  let loaded = false;
  /** @type {LessonState|null} */
  let state = null;
  /** "name#step" of the step drawn last, to notice a new step. */
  let drawnStep = "";
  let busyWas = false;
  /** Timeline entries newer than this id belong to the current step. */
  let sinceId = Number.POSITIVE_INFINITY;
  let lastTopId = 0;
  /** A request to the server is under way. */
  let pending = false;
  /** A Next pressed while the step played: sent when it is done. */
  let queued = false;
  /** The step the server said it started, until the stream shows it: {name, step, until}. */
  /** @type {{name: string, step: number, until: number}|null} */
  let awaiting = null;
  /** @type {Model|null} */
  let lastModel = null;
  /** After a "busy" answer, a queued Next is not sent again before this time (ms). */
  let retryAfter = 0;

  part(root, "start").addEventListener("click", () => {
    if (pick.value) run(() => handlers.start(pick.value), "starting");
  });
  pick.addEventListener("change", showSummary);
  nextButton.addEventListener("click", () => command("next"));
  part(root, "back").addEventListener("click", () => command("back"));
  part(root, "restart").addEventListener("click", () => command("restart"));
  part(root, "stop").addEventListener("click", () => {
    queued = false;
    run(handlers.stop, "stopping");
  });

  const readOnly = () => handlers.isViewer() || handlers.isReplay();

  async function loadCatalogue() {
    if (loaded) return;
    loaded = true;
    const r = await handlers.list();
    if (!r.ok || !r.body || !Array.isArray(r.body.scenarios)) {
      loaded = false;
      say(r.status === 404 ? "No lessons on this server." : `Could not list the lessons: ${r.message}`, "error");
      return;
    }
    catalogue = r.body.scenarios;
    pick.replaceChildren(
      ...catalogue.map((s) => el("option", { text: `${s.title} (${s.steps} steps)`, attrs: { value: s.name } })),
    );
    showSummary();
  }

  function showSummary() {
    const s = catalogue.find((x) => x.name === pick.value);
    setText(part(root, "pick-summary"), s ? s.summary : "");
  }

  /** @param {string} text @param {"ok"|"error"|""} [kind] */
  function say(text, kind = "") {
    setText(msg, text);
    if (kind) msg.dataset.state = kind;
    else delete msg.dataset.state;
  }

  /** Whether a step is playing out, as far as this page knows (the stream may lag behind a reply). */
  function isBusy() {
    if (pending) return true;
    if (awaiting && Date.now() < awaiting.until) return true;
    return Boolean(state && state.busy);
  }

  /** @param {() => Promise<HttpResult>} fn @param {string} doing @param {boolean} [startsStep] */
  async function run(fn, doing, startsStep = false) {
    if (pending) return;
    pending = true;
    root.dataset.pending = "1";
    redraw();
    try {
      const r = await fn();
      if (r.ok) {
        say("");
        const s = /** @type {LessonState|null} */ (r.body);
        // The reply and the stream race: when the stream already showed this step (playing or played
        // out), it is newer than the reply and says whether the server is still busy.
        if (startsStep && s && s.busy && !streamShows(s)) {
          awaiting = { name: s.name, step: s.step, until: Date.now() + STEP_SHOWN_WITHIN_MS };
          later(STEP_SHOWN_WITHIN_MS); // should the stream never show it, busy still ends
        }
      } else if (startsStep && r.status === 409 && r.body && r.body.code === "busy") {
        queued = true; // another page started a step first: this Next follows it
        // The stream may already have shown that step played out (then no change comes to send the
        // queued Next), or may not show it playing yet: look again in a moment.
        retryAfter = Date.now() + BUSY_RETRY_MS;
        later(BUSY_RETRY_MS);
      } else {
        queued = false;
        say(`${doing} failed: ${r.message}`, "error");
      }
    } finally {
      pending = false;
      delete root.dataset.pending;
      settle();
    }
  }

  /** Whether the stream has shown the step `s` (or one after it) of the same scenario. @param {LessonState} s */
  function streamShows(s) {
    return Boolean(state && state.name === s.name && state.step >= s.step);
  }

  /** Settle again after `ms` (a wait that ends without any change on the stream). @param {number} ms */
  function later(ms) {
    setTimeout(settle, ms + 50);
  }

  /** Redraw from what is known now, and send a queued Next once the step it waits for is done. */
  function settle() {
    if (awaiting && Date.now() >= awaiting.until) awaiting = null;
    redraw();
    if (state && queued && !isBusy() && !readOnly() && Date.now() >= retryAfter) {
      queued = false;
      if (state.step < state.total) run(handlers.next, "next step", true);
      else redraw();
    }
  }

  /** @param {"next"|"back"|"restart"} cmd */
  function command(cmd) {
    if (!state || readOnly()) return;
    if (cmd === "next") {
      if (isBusy()) {
        // the step still plays: the next one starts when it is done (one queued Next at most)
        if (state.step + (queued ? 1 : 0) < state.total) queued = true;
        redraw();
        return;
      }
      if (state.step >= state.total) {
        say("That was the last step: Restart or Stop.");
        return;
      }
      run(handlers.next, "next step", true);
    } else if (cmd === "back") {
      queued = false;
      awaiting = null;
      if (state.step <= 0 && !state.busy) return;
      run(handlers.back, "going back");
    } else {
      queued = false;
      awaiting = null;
      run(handlers.restart, "restarting");
    }
  }

  /** Draw again from the last model (after a local change: a reply, a queued Next). */
  function redraw() {
    if (state && lastModel) drawActive(state, lastModel);
  }

  /** @param {LessonState} s @param {Model} model */
  function drawActive(s, model) {
    const busy = isBusy();
    const viewOnly = readOnly();
    setText(part(root, "title"), s.title);
    const atStart = s.step <= 0;
    setText(part(root, "step"), atStart ? `Ready · ${s.total} steps` : `Step ${s.step} of ${s.total}`);
    setText(part(root, "step-title"), atStart ? "Before step 1" : s.stepTitle || "");
    const narration = part(root, "narration");
    const words = (atStart ? s.summary : s.narration) || "";
    setText(narration, words);
    narration.dataset.size = narrationSize(words);
    const bar = part(root, "progress");
    if (bar.childElementCount !== s.total) {
      bar.replaceChildren(...Array.from({ length: s.total }, () => el("span", { class: "progress-dot" })));
    }
    Array.from(bar.children).forEach((dot, i) => {
      dot.classList.toggle("done", i < s.step);
      dot.classList.toggle("now", i === s.step - 1);
    });
    bar.setAttribute("aria-label", `step ${s.step} of ${s.total}`);

    const busyBox = part(root, "busy");
    busyBox.hidden = !busy;
    const playing = s.busy ? s.step : s.step + 1;
    setText(
      part(root, "busy-text"),
      queued ? `step ${playing} plays out, then step ${playing + 1} starts` : viewOnly ? "playing out…" : `step ${playing} is playing out…`,
    );
    root.dataset.busy = busy ? "yes" : "no";
    if (typeof s.error === "string" && s.error) say(`This step failed: ${s.error}`, "error");

    const atEnd = s.step >= s.total && !s.busy;
    part(root, "back").toggleAttribute("disabled", (atStart && !s.busy) || pending);
    nextButton.toggleAttribute("disabled", atEnd || (queued && busy) || (pending && !busy));
    nextButton.dataset.queued = String(queued);
    part(root, "restart").toggleAttribute("disabled", pending);
    setText(nextButton, atEnd ? "Done ✓" : queued ? "Queued ▶" : atStart && !busy ? "Start step 1 ▶" : "Next ▶");

    const checks = s.checks || [];
    part(root, "checks-box").hidden = checks.length === 0 && !busy;
    reconcile(
      part(root, "checks"),
      checks.map((c, i) => ({ ...c, i })),
      (c) => `${c.i}|${c.text}`,
      () =>
        el("li", { class: "check" }, [
          el("span", { class: "check-mark", attrs: { role: "img" } }),
          el("span", { class: "check-text" }),
        ]),
      (node, c) => {
        const v = checkView(c);
        node.dataset.ok = v.state;
        const mark = /** @type {HTMLElement} */ (node.querySelector(".check-mark"));
        setText(mark, v.mark);
        mark.setAttribute("aria-label", v.label);
        setText(/** @type {HTMLElement} */ (node.querySelector(".check-text")), v.text);
      },
      { animate: false },
    );
    drawChanges(model);
  }

  /** The timeline entries since the step began, newest first. @param {Model} model */
  function drawChanges(model) {
    const entries = model.timeline.filter((e) => e.id > sinceId).slice(0, CHANGES_SHOWN);
    part(root, "changes-box").hidden = entries.length === 0;
    reconcile(
      part(root, "changes"),
      entries,
      (e) => String(e.id),
      () => el("li", { class: "change" }, [el("time", { class: "change-time" }), el("span", { class: "change-text" })]),
      (node, e) => {
        setText(/** @type {HTMLElement} */ (node.querySelector(".change-time")), clock(e.time));
        setText(/** @type {HTMLElement} */ (node.querySelector(".change-text")), e.text);
        node.title = e.text;
      },
    );
  }

  return {
    /** @param {Model} model @param {import("../model.js").Changes} changes */
    render(model, changes) {
      lastModel = model;
      const classroom = model.meta && model.meta.classroom;
      const s = /** @type {LessonState|null} */ ((classroom && classroom.scenario) || null);
      if (awaiting && (!s || s.name !== awaiting.name || s.step >= awaiting.step || Date.now() >= awaiting.until)) {
        awaiting = null; // the stream shows the step (or something else happened meanwhile)
      }
      const key = s ? `${s.name}#${s.step}` : "";
      const busy = Boolean(s && s.busy);
      if (key !== drawnStep || (busy && !busyWas)) {
        // entries that came with this batch belong to the new step
        sinceId = s && s.step > 0 ? lastTopId : Number.POSITIVE_INFINITY;
      }
      const settled = Boolean(s) && busyWas && !busy && key === drawnStep;
      busyWas = busy;
      const top = model.timeline[0];
      lastTopId = top ? top.id : 0;
      const stepChanged = key !== drawnStep;
      drawnStep = key;
      state = s;
      if (!s) {
        queued = false;
        awaiting = null;
      }
      if (stepChanged && !(msg.dataset.state === "error" && s && s.error)) say("");
      const viewOnly = readOnly();
      root.dataset.active = s ? "yes" : "no";
      root.dataset.readonly = viewOnly ? "yes" : "no";
      part(root, "picker").hidden = Boolean(s) || viewOnly;
      part(root, "active").hidden = !s;
      part(root, "waiting").hidden = Boolean(s) || !viewOnly;
      if (s) drawActive(s, model);
      else if (!viewOnly && !root.hidden) loadCatalogue();
      if (stepChanged) handlers.onStep(s);
      else if (settled && s) handlers.onSettled(s);
      if (changes.timeline && s) drawChanges(model);
      // a Next pressed while the step played goes now that it is done
      if (s && queued && !isBusy() && !viewOnly && Date.now() >= retryAfter) {
        queued = false;
        if (s.step < s.total) run(handlers.next, "next step", true);
      }
    },
    /** Show the panel (and load the list of lessons). */
    open() {
      root.hidden = false;
      document.documentElement.classList.add("lesson-open");
      if (!state && !readOnly()) loadCatalogue();
    },
    close() {
      root.hidden = true;
      document.documentElement.classList.remove("lesson-open");
    },
    get isOpen() {
      return !root.hidden;
    },
    command,
    get state() {
      return state;
    },
    /** Whether a Next waits for the playing step. */
    get queued() {
      return queued;
    },
    /** The kubectl commands the current step suggests (null when no lesson runs). */
    get commands() {
      return state && Array.isArray(state.commands) ? state.commands : null;
    },
  };
}
