// @ts-check
/** The kubectl console (simulated cluster only): a command line with history, output as plain text, the lessons' commands. */

import { el, part, setText } from "../dom.js";
import { postHeaders } from "../http.js";

/** Commands the lessons use, ready to click. */
export const SUGGESTED = [
  "kubectl get endpoints",
  "kubectl describe endpoints shipping-api-service",
  "kubectl get pods -l app=shipping-api -o wide",
  "kubectl get endpointslices",
  "kubectl get pods --show-labels",
  "kubectl get endpoints web-svc",
  "kubectl describe service web-svc",
  "kubectl get endpoints -w",
];

/** Output kept in the block (characters); older output is dropped from the top. */
const KEEP_CHARS = 200_000;

/**
 * @param {HTMLElement} root the console <section>
 * @param {{run: (command: string) => Promise<import("../http.js").HttpResult>}} handlers
 */
export function createConsole(root, handlers) {
  const form = /** @type {HTMLFormElement} */ (part(root, "form"));
  const input = /** @type {HTMLInputElement} */ (part(root, "input"));
  const out = part(root, "output");
  const stopButton = part(root, "stop");
  /** @type {string[]} */
  const history = [];
  let cursor = 0;
  let draft = "";
  let running = false;
  /** @type {AbortController|null} */
  let streaming = null;

  part(root, "suggestions").replaceChildren(
    ...SUGGESTED.map((cmd) => {
      const b = el("button", { class: "btn suggestion", text: cmd.replace(/^kubectl /, ""), attrs: { type: "button", title: cmd } });
      b.addEventListener("click", () => {
        input.value = cmd;
        submit();
      });
      return b;
    }),
  );

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  stopButton.addEventListener("click", () => streaming && streaming.abort());
  part(root, "clear").addEventListener("click", () => setText(out, ""));
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowUp") {
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
    const span = document.createElement("span");
    if (kind) span.className = `out-${kind}`;
    span.textContent = text;
    out.append(span);
    while ((out.textContent || "").length > KEEP_CHARS && out.firstChild) out.firstChild.remove();
    out.scrollTop = out.scrollHeight;
  }

  async function submit() {
    let command = input.value.trim();
    if (!command || running) return;
    if (!command.startsWith("kubectl")) command = `kubectl ${command}`;
    if (history[history.length - 1] !== command) history.push(command);
    cursor = history.length;
    draft = "";
    input.value = "";
    write(`$ ${command}\n`, "prompt");
    running = true;
    root.dataset.running = "1";
    try {
      if (/\s(-w|--watch|--watch-only)(\s|=|$)/.test(` ${command} `) || /rollout status/.test(command)) {
        await stream(command);
      } else {
        const r = await handlers.run(command);
        if (r.ok && r.body) {
          write(String(r.body.output || ""));
          if (r.body.exitCode !== 0) write(`(exit ${r.body.exitCode === null ? "stopped" : r.body.exitCode})\n`, "note");
        } else {
          write(`${r.message}\n`, "error");
        }
      }
    } finally {
      running = false;
      delete root.dataset.running;
      input.focus();
    }
  }

  /** A watch: POST api/console/stream, read its server-sent events as they come. @param {string} command */
  async function stream(command) {
    streaming = new AbortController();
    stopButton.hidden = false;
    try {
      const res = await fetch("api/console/stream", {
        method: "POST",
        headers: postHeaders(),
        body: JSON.stringify({ command }),
        signal: streaming.signal,
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
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "AbortError")) write(`${String(err)}\n`, "error");
      else write("(stopped)\n", "note");
    } finally {
      streaming = null;
      stopButton.hidden = true;
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

  return {
    /** @param {boolean} show */
    setAvailable(show) {
      document.documentElement.dataset.console = show ? "on" : "off";
      if (!show) root.hidden = true;
    },
    toggle() {
      root.hidden = !root.hidden;
      document.documentElement.classList.toggle("console-open", !root.hidden);
      if (!root.hidden) input.focus();
    },
    get isOpen() {
      return !root.hidden;
    },
  };
}
