// @ts-check
/**
 * The kubectl console (simulated cluster only): a command line with history, output as plain text, and
 * commands to click (the lesson step's, else about the Services there are). While a command runs the
 * console says so, and Stop (or Ctrl+C) ends it.
 */

import { el, part, setText } from "../dom.js";
import { postHeaders } from "../http.js";

/** Output kept in the block (characters); older output is dropped from the top. */
const KEEP_CHARS = 200_000;
/** Suggestions shown at most. */
const SUGGESTED_MAX = 8;

/**
 * Commands about the cluster as it is, when no lesson suggests its own: the lists, then the first
 * Services with a selector (never one that is not there). Pure.
 * @param {import("../model.js").Model|null} model
 * @returns {string[]}
 */
export function defaultSuggestions(model) {
  const out = ["kubectl get endpoints", "kubectl get endpointslices", "kubectl get pods -o wide --show-labels"];
  const services = model ? Object.values(model.services) : [];
  const picked = services
    .filter((s) => s.selector && Object.keys(s.selector).length)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, 2);
  for (const s of picked) {
    const ns = s.namespace === "default" ? "" : ` -n ${s.namespace}`;
    out.push(`kubectl describe endpoints${ns} ${s.name}`);
    out.push(`kubectl get endpointslices${ns} -l kubernetes.io/service-name=${s.name}`);
  }
  out.push("kubectl get endpoints -w");
  return out.slice(0, SUGGESTED_MAX);
}

/** Whether a command streams (a watch, rollout status): it runs until stopped or its time limit. @param {string} command */
export function streams(command) {
  return /\s(-w|--watch|--watch-only)(\s|=|$)/.test(` ${command} `) || /\brollout status\b/.test(command);
}

/**
 * @param {HTMLElement} root the console <section>
 * @param {{run: (command: string) => Promise<import("../http.js").HttpResult>}} handlers
 */
export function createConsole(root, handlers) {
  const form = /** @type {HTMLFormElement} */ (part(root, "form"));
  const input = /** @type {HTMLInputElement} */ (part(root, "input"));
  const out = part(root, "output");
  const stopButton = part(root, "stop");
  const busyBox = part(root, "busy");
  const suggestions = part(root, "suggestions");
  /** @type {string[]} */
  const history = [];
  let cursor = 0;
  let draft = "";
  /** The command running now, or "". */
  let running = "";
  /** @type {AbortController|null} */
  let controller = null;
  let suggestedSig = "";
  /** What the suggestions are drawn from, kept while the console is closed (drawn when it opens). */
  /** @type {{model: import("../model.js").Model, lessonCommands: string[]|null}|null} */
  let suggestFrom = null;

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  stopButton.addEventListener("click", () => stop());
  part(root, "clear").addEventListener("click", () => setText(out, ""));
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "c" && ev.ctrlKey && !ev.metaKey && !ev.altKey && running && input.selectionStart === input.selectionEnd) {
      // as in a terminal: Ctrl+C stops what runs (with nothing selected to copy)
      ev.preventDefault();
      stop();
    } else if (ev.key === "ArrowUp") {
      if (cursor === history.length) draft = input.value;
      if (cursor > 0) cursor -= 1;
      input.value = history[cursor] ?? draft;
      ev.preventDefault();
    } else if (ev.key === "ArrowDown") {
      if (cursor < history.length) cursor += 1;
      input.value = cursor === history.length ? draft : history[cursor];
      ev.preventDefault();
    }
  });

  /** @param {string} text @param {string} [kind] */
  function write(text, kind) {
    if (!text) return;
    const span = document.createElement("span");
    if (kind) span.className = `out-${kind}`;
    span.textContent = text;
    out.append(span);
    while ((out.textContent || "").length > KEEP_CHARS && out.firstChild) out.firstChild.remove();
    out.scrollTop = out.scrollHeight;
  }

  /** @param {string} command the command now running, or "" */
  function setRunning(command) {
    running = command;
    if (command) root.dataset.running = "1";
    else delete root.dataset.running;
    busyBox.hidden = !command;
    stopButton.hidden = !command;
    setText(part(root, "busy-text"), command ? `running: ${command}` : "");
  }

  function stop() {
    if (controller) controller.abort();
  }

  async function submit() {
    let command = input.value.trim();
    if (!command) return;
    if (running) {
      // one command at a time: say so, and keep what was typed
      write(`(busy: "${running}" is still running — ■ Stop or Ctrl+C ends it; then press Enter again)\n`, "note");
      return;
    }
    if (!command.startsWith("kubectl")) command = `kubectl ${command}`;
    if (history[history.length - 1] !== command) history.push(command);
    cursor = history.length;
    draft = "";
    input.value = "";
    write(`$ ${command}\n`, "prompt");
    controller = new AbortController();
    setRunning(command);
    try {
      if (streams(command)) await stream(command, controller.signal);
      else await once(command, controller.signal);
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") write("(stopped)\n", "note");
      else write(`${String(err)}\n`, "error");
    } finally {
      controller = null;
      setRunning("");
      input.focus();
    }
  }

  /** A one-shot command: POST api/console/run; Stop closes the request, and the server stops kubectl. @param {string} command @param {AbortSignal} signal */
  async function once(command, signal) {
    const res = await fetch("api/console/run", {
      method: "POST",
      headers: postHeaders(),
      body: JSON.stringify({ command }),
      signal,
    });
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (res.status === 403 && body && body.reason === "csrf") {
      // the server restarted: postJSON fetches its new page token and tries once more
      return show(await handlers.run(command));
    }
    show({ ok: res.ok, status: res.status, message: body && typeof body.error === "string" ? body.error : `HTTP ${res.status}`, body });
  }

  /** @param {import("../http.js").HttpResult} r */
  function show(r) {
    if (r.ok && r.body) {
      write(String(r.body.output || ""));
      if (r.body.exitCode !== 0) write(`(exit ${r.body.exitCode === null ? "stopped" : r.body.exitCode})\n`, "note");
    } else {
      write(`${r.message}\n`, "error");
    }
  }

  /** A watch: POST api/console/stream, read its server-sent events as they come. @param {string} command @param {AbortSignal} signal */
  async function stream(command, signal) {
    const res = await fetch("api/console/stream", {
      method: "POST",
      headers: postHeaders(),
      body: JSON.stringify({ command }),
      signal,
    });
    const type = res.headers.get("content-type") || "";
    if (!res.ok || !type.includes("text/event-stream") || !res.body) {
      let message = `HTTP ${res.status}`;
      try {
        const data = await res.json();
        if (data && typeof data.error === "string") message = data.error;
      } catch {
        /* not JSON */
      }
      write(`${message}\n`, "error");
      return;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        handleEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
      }
    }
  }

  /** @param {string} block one server-sent event */
  function handleEvent(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    let body;
    try {
      body = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    if (event === "output") write(String(body.text || ""));
    else if (event === "exit") write(body.timedOut ? "(watch ended after the time limit)\n" : "", "note");
    else if (event === "error") write(`${body.error}\n`, "error");
  }

  /** @param {string[]} commands @param {boolean} fromLesson */
  function drawSuggestions(commands, fromLesson) {
    const sig = `${fromLesson}\n${commands.join("\n")}`;
    if (sig === suggestedSig) return;
    suggestedSig = sig;
    suggestions.dataset.source = fromLesson ? "lesson" : "cluster";
    suggestions.replaceChildren(
      el("span", { class: "suggestions-label", text: fromLesson ? "this step:" : "try:" }),
      ...commands.map((cmd) => {
        const b = el("button", {
          class: "btn suggestion",
          text: cmd.replace(/^kubectl /, ""),
          attrs: { type: "button", title: cmd },
          dataset: { command: cmd },
        });
        b.addEventListener("click", () => {
          input.value = cmd;
          submit();
        });
        return b;
      }),
    );
  }

  function refreshSuggestions() {
    if (!suggestFrom) return;
    const { model, lessonCommands } = suggestFrom;
    if (lessonCommands && lessonCommands.length) drawSuggestions(lessonCommands.slice(0, SUGGESTED_MAX), true);
    else drawSuggestions(defaultSuggestions(model), false);
  }

  return {
    /** @param {boolean} show */
    setAvailable(show) {
      document.documentElement.dataset.console = show ? "on" : "off";
      if (!show) root.hidden = true;
    },
    /**
     * The commands to click: the lesson step's when a lesson runs, else ones about this cluster.
     * @param {import("../model.js").Model} model @param {string[]|null} lessonCommands
     */
    suggest(model, lessonCommands) {
      suggestFrom = { model, lessonCommands };
      if (!root.hidden) refreshSuggestions();
    },
    toggle() {
      root.hidden = !root.hidden;
      document.documentElement.classList.toggle("console-open", !root.hidden);
      if (!root.hidden) {
        refreshSuggestions();
        input.focus();
      }
    },
    get isOpen() {
      return !root.hidden;
    },
    /** The command running now, or "". */
    get running() {
      return running;
    },
    stop,
  };
}
