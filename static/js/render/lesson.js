// @ts-check
/** The lesson panel: pick a scenario, then step through it (narration, checks, what changed) as presenter or viewer. */

import { clock, el, part, setText } from "../dom.js";
import { reconcile } from "./keyed.js";

/**
 * @typedef {import("../model.js").Model} Model
 * @typedef {import("../model.js").ScenarioState} ScenarioState
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
 *   onStep: (state: ScenarioState|null) => void,
 * }} LessonHandlers
 */

/** How many of the step's timeline entries "What changed" lists. */
const CHANGES_SHOWN = 6;

/**
 * @param {HTMLElement} root the lesson <section> (see templates/index.html)
 * @param {LessonHandlers} handlers
 */
export function createLesson(root, handlers) {
  const pick = /** @type {HTMLSelectElement} */ (part(root, "pick"));
  const msg = part(root, "msg");
  /** @type {ScenarioInfo[]} */
  let catalogue = [];
  let loaded = false;
  /** @type {ScenarioState|null} */
  let state = null;
  /** "name#step" of the step drawn last, to notice a new step. */
  let drawnStep = "";
  let busyWas = false;
  /** Timeline entries newer than this id belong to the current step. */
  let sinceId = Number.POSITIVE_INFINITY;
  let lastTopId = 0;
  let pending = false;

  part(root, "start").addEventListener("click", () => {
    if (pick.value) run(() => handlers.start(pick.value), "starting");
  });
  pick.addEventListener("change", showSummary);
  part(root, "next").addEventListener("click", () => command("next"));
  part(root, "back").addEventListener("click", () => command("back"));
  part(root, "restart").addEventListener("click", () => command("restart"));
  part(root, "stop").addEventListener("click", () => run(handlers.stop, "stopping"));

  async function loadCatalogue() {
    if (loaded) return;
    loaded = true;
    const r = await handlers.list();
    if (!r.ok || !r.body || !Array.isArray(r.body.scenarios)) {
      loaded = false;
      setText(msg, r.status === 404 ? "No lessons on this server." : `Could not list the lessons: ${r.message}`);
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

  /** @param {() => Promise<HttpResult>} fn @param {string} doing */
  async function run(fn, doing) {
    if (pending) return;
    pending = true;
    root.dataset.pending = "1";
    setText(msg, `${doing}…`);
    try {
      const r = await fn();
      setText(msg, r.ok ? "" : `${doing} failed: ${r.message}`);
      msg.dataset.state = r.ok ? "ok" : "error";
    } finally {
      pending = false;
      delete root.dataset.pending;
    }
  }

  /** @param {"next"|"back"|"restart"} cmd */
  function command(cmd) {
    if (!state || handlers.isViewer()) return;
    if (state.busy) {
      setText(msg, "Wait: this step is still playing out.");
      return;
    }
    if (cmd === "next") {
      if (state.step >= state.total) {
        setText(msg, "That was the last step: Restart or Stop.");
        return;
      }
      run(handlers.next, "next step");
    } else if (cmd === "back") {
      if (state.step <= 0) return;
      run(handlers.back, "going back");
    } else {
      run(handlers.restart, "restarting");
    }
  }

  /** @param {ScenarioState} s @param {Model} model */
  function drawActive(s, model) {
    setText(part(root, "title"), s.title);
    const atStart = s.step <= 0;
    setText(part(root, "step"), atStart ? `Ready · ${s.total} steps` : `Step ${s.step} of ${s.total}`);
    setText(part(root, "step-title"), atStart ? "Before step 1" : s.stepTitle || "");
    setText(part(root, "narration"), atStart ? s.summary : s.narration || "");
    const bar = part(root, "progress");
    if (bar.childElementCount !== s.total) {
      bar.replaceChildren(...Array.from({ length: s.total }, () => el("span", { class: "progress-dot" })));
    }
    Array.from(bar.children).forEach((dot, i) => {
      dot.classList.toggle("done", i < s.step);
      dot.classList.toggle("now", i === s.step - 1);
    });
    bar.setAttribute("aria-label", `step ${s.step} of ${s.total}`);
    part(root, "busy").hidden = !s.busy;
    const error = /** @type {any} */ (s).error;
    if (typeof error === "string" && error) {
      setText(msg, `This step failed: ${error}`);
      msg.dataset.state = "error";
    }
    part(root, "back").toggleAttribute("disabled", atStart || s.busy);
    part(root, "next").toggleAttribute("disabled", s.step >= s.total || s.busy);
    part(root, "restart").toggleAttribute("disabled", s.busy);
    setText(part(root, "next"), s.step >= s.total ? "Done ✓" : atStart ? "Start step 1 ▶" : "Next ▶");

    const checks = s.checks || [];
    part(root, "checks-box").hidden = checks.length === 0;
    reconcile(
      part(root, "checks"),
      checks.map((c, i) => ({ ...c, i })),
      (c) => `${c.i}|${c.text}`,
      () => el("li", { class: "check" }, [el("span", { class: "check-mark" }), el("span", { class: "check-text" })]),
      (node, c) => {
        node.dataset.ok = String(Boolean(c.ok));
        setText(/** @type {HTMLElement} */ (node.querySelector(".check-mark")), c.ok ? "✓" : "✗");
        const problems = Array.isArray(/** @type {any} */ (c).problems) ? /** @type {any} */ (c).problems : [];
        setText(/** @type {HTMLElement} */ (node.querySelector(".check-text")), c.ok || !problems.length ? c.text : `${c.text} (${problems.join("; ")})`);
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
      },
    );
  }

  return {
    /** @param {Model} model @param {import("../model.js").Changes} changes */
    render(model, changes) {
      const classroom = model.meta && model.meta.classroom;
      const s = (classroom && classroom.scenario) || null;
      const key = s ? `${s.name}#${s.step}` : "";
      const busy = Boolean(s && s.busy);
      if (key !== drawnStep || (busy && !busyWas)) {
        // entries that came with this batch belong to the new step
        sinceId = s && s.step > 0 ? lastTopId : Number.POSITIVE_INFINITY;
      }
      busyWas = busy;
      const top = model.timeline[0];
      lastTopId = top ? top.id : 0;
      const stepChanged = key !== drawnStep;
      drawnStep = key;
      state = s;
      const viewer = handlers.isViewer();
      root.dataset.active = s ? "yes" : "no";
      part(root, "picker").hidden = Boolean(s) || viewer;
      part(root, "active").hidden = !s;
      part(root, "waiting").hidden = Boolean(s) || !viewer;
      if (s) drawActive(s, model);
      else if (!viewer && !root.hidden) loadCatalogue();
      if (stepChanged) handlers.onStep(s);
      if (changes.timeline && s) drawChanges(model);
    },
    /** Show the panel (and load the list of lessons). */
    open() {
      root.hidden = false;
      document.documentElement.classList.add("lesson-open");
      if (!state && !handlers.isViewer()) loadCatalogue();
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
  };
}
