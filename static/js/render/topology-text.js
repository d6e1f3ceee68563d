// @ts-check
/**
 * Text sizes for the topology diagram, computed, never measured: the diagram's text is monospaced
 * (DejaVu Sans Mono: every glyph it draws, ✓ ✕ ⊘ included, is 0.602 em wide). Pure.
 */

/** Advance of one character of the diagram's monospaced font, in em. */
export const CHAR_EM = 0.602;

/** @param {string} text */
function chars(text) {
  return [...text];
}

/** Width of `text` at font size `size` (px). @param {string} text @param {number} size */
export function textWidth(text, size) {
  return chars(text).length * CHAR_EM * size;
}

/** How many characters fit in `width` px at font size `size`. @param {number} width @param {number} size */
export function charsIn(width, size) {
  return Math.max(1, Math.floor(width / (CHAR_EM * size)));
}

/**
 * `text` shortened to `n` characters with an ellipsis in the middle: names end with what tells them
 * apart (a pod's random suffix, a slice's), so the end is kept whole and the start as much as fits.
 * @param {string} text
 * @param {number} n
 */
export function ellipsize(text, n) {
  const c = chars(text);
  if (c.length <= n) return text;
  if (n <= 1) return "…";
  const tail = Math.min(c.length - 1, Math.max(1, Math.ceil((n - 1) * 0.55)));
  const head = n - 1 - tail;
  return `${c.slice(0, head).join("")}…${c.slice(c.length - tail).join("")}`;
}

/** `text` fitted in `width` px at `size` (ellipsized in the middle). @param {string} text @param {number} size @param {number} width */
export function fit(text, size, width) {
  return ellipsize(text, charsIn(width, size));
}

/** `text` cut at the end to fit `width` px at `size` (for sentences: their start says most). @param {string} text @param {number} size @param {number} width */
export function clip(text, size, width) {
  const n = charsIn(width, size);
  const c = chars(text);
  return c.length <= n ? text : `${c.slice(0, Math.max(0, n - 1)).join("").trimEnd()}…`;
}

/** Characters a line may break after (names are dashed; sentences spaced). */
const BREAK_AFTER = new Set(["-", ".", "/", " ", ",", "=", ":"]);

/**
 * Lines of at most `width` px at `size`, broken after a dash, dot, slash or space when one is near,
 * at most `maxLines` (the last one ellipsized).
 * @param {string} text
 * @param {number} size
 * @param {number} width
 * @param {number} [maxLines]
 * @returns {string[]}
 */
export function wrap(text, size, width, maxLines = 2) {
  const n = charsIn(width, size);
  const c = chars(text);
  /** @type {string[]} */
  const lines = [];
  let at = 0;
  while (at < c.length) {
    if (lines.length === maxLines - 1 || c.length - at <= n) {
      lines.push(ellipsize(c.slice(at).join("").trim(), n));
      break;
    }
    // the last break character within the line
    let cut = -1;
    for (let i = at + n - 1; i > at; i--) {
      if (BREAK_AFTER.has(c[i])) {
        cut = i + 1;
        break;
      }
    }
    if (cut < 0) cut = at + n;
    lines.push(c.slice(at, cut).join("").trimEnd());
    at = cut;
    while (c[at] === " ") at += 1;
  }
  return lines.length ? lines : [""];
}
