// @ts-check
/** Lesson keyboard shortcuts (→ PageDown Space: next; ← PageUp: back; R: restart), as clickers send them. */

/**
 * @typedef {"next"|"back"|"restart"} StepCommand
 */

/**
 * Which lesson command a key press means, or null. Pure, for tests.
 * @param {{key: string, ctrlKey?: boolean, metaKey?: boolean, altKey?: boolean}} ev
 * @returns {StepCommand|null}
 */
export function commandFor(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return null;
  switch (ev.key) {
    case "ArrowRight":
    case "PageDown":
    case " ":
    case "Spacebar":
      return "next";
    case "ArrowLeft":
    case "PageUp":
      return "back";
    case "r":
    case "R":
      return "restart";
    default:
      return null;
  }
}

/** Whether the key press is meant for a form field (then shortcuts stay out of the way). @param {EventTarget|null} target */
export function typingIn(target) {
  const t = /** @type {HTMLElement|null} */ (target);
  if (!t || !t.tagName) return false;
  const tag = t.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || t.isContentEditable;
}

/**
 * Listen for the shortcuts on the document.
 * @param {{enabled: () => boolean, run: (cmd: StepCommand) => void}} opts
 */
export function installShortcuts(opts) {
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.repeat || typingIn(ev.target)) return;
    const cmd = commandFor(ev);
    if (!cmd || !opts.enabled()) return;
    // Space on a focused button would click it as well: the shortcut wins
    ev.preventDefault();
    opts.run(cmd);
  });
}
