// @ts-check
/** Small DOM helpers: build elements with text only (never HTML), patch text and classes only on change. */

/**
 * Create an element. `props.class`, `props.text`, `props.attrs`, `props.dataset`; children are nodes or strings.
 * @param {string} tag
 * @param {{class?: string, text?: string, attrs?: Record<string,string>, dataset?: Record<string,string>}} [props]
 * @param {(Node|string|null|undefined|false)[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) node.setAttribute(k, v);
  if (props.dataset) for (const [k, v] of Object.entries(props.dataset)) node.dataset[k] = v;
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/**
 * Set textContent only when it differs (keeps layout and animations calm).
 * @param {Element|null} node
 * @param {string} text
 * @returns {boolean} whether it changed
 */
export function setText(node, text) {
  if (!node) return false;
  if (node.textContent === text) return false;
  node.textContent = text;
  return true;
}

/**
 * @param {Element} node
 * @param {string} name
 * @param {string|null} value null removes
 */
export function setAttr(node, name, value) {
  if (value === null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

/**
 * Find the first descendant with `data-part="name"`.
 * @param {Element} root
 * @param {string} name
 * @returns {HTMLElement}
 */
export function part(root, name) {
  const found = root.querySelector(`[data-part="${name}"]`);
  if (!found) throw new Error(`missing part ${name}`);
  return /** @type {HTMLElement} */ (found);
}

/** "app=shipping-api, tier=web" from a label map. @param {Record<string,string>|null|undefined} labels */
export function labelText(labels) {
  if (!labels) return "";
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** HH:MM:SS (local time) from epoch seconds or milliseconds. @param {number} t @param {"s"|"ms"} unit */
export function clock(t, unit = "s") {
  const d = new Date(unit === "s" ? t * 1000 : t);
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
