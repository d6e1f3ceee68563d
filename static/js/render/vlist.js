// @ts-check
/**
 * A virtualised column of keyed items in blocks: a block near the viewport (an IntersectionObserver
 * says so, no layout is read) holds its items' nodes; a block far away is one empty box as tall as it
 * was (or as estimated), so the DOM stays bounded whatever the number of items. Scroll anchoring keeps
 * the view steady when a block above it is drawn at its real height.
 */

/**
 * @typedef {{el: HTMLElement, index: number, keys: string[], live: boolean, want: boolean, dirty: boolean,
 *   near: number, height: number|null}} Block
 * @typedef {{
 *   blockSize?: number,
 *   margin?: string,
 *   fill: (el: HTMLElement, keys: string[]) => void,
 *   clear: (el: HTMLElement, keys: string[]) => void,
 *   estimate: (keys: string[]) => number,
 *   request: () => void,
 * }} VirtualListOptions
 */

/**
 * @param {HTMLElement} root
 * @param {VirtualListOptions} opts
 */
export function createVirtualList(root, opts) {
  const size = opts.blockSize || 8;
  /** @type {Block[]} */
  let blocks = [];
  /** @type {string[]} */
  let keys = [];
  /** @type {Map<string, number>} key → index */
  let position = new Map();
  /** Estimate → px: learnt from blocks whose real height was seen. */
  let scale = 9.6 + 0.0075 * window.innerWidth;
  let viewportH = window.innerHeight;

  const observer = new IntersectionObserver(
    (entries) => {
      viewportH = window.innerHeight;
      let changed = false;
      for (const entry of entries) {
        const block = blocks[Number(/** @type {HTMLElement} */ (entry.target).dataset.block)];
        if (!block || block.el !== entry.target) continue;
        const rect = entry.boundingClientRect;
        if (block.live && !block.dirty && rect.height > 0) {
          block.height = rect.height;
          const est = opts.estimate(block.keys);
          if (est > 0) scale = scale * 0.8 + (rect.height / est) * 0.2;
        }
        // how far from the viewport: blocks on screen are drawn first
        block.near = rect.bottom < 0 ? -rect.bottom : rect.top > viewportH ? rect.top - viewportH : 0;
        if (block.want !== entry.isIntersecting) {
          block.want = entry.isIntersecting;
          changed = true;
        }
      }
      if (changed) opts.request();
    },
    { rootMargin: opts.margin || "150% 0px 150% 0px" },
  );

  /** @param {Block} block */
  function sleep(block) {
    if (block.live) opts.clear(block.el, block.keys);
    block.live = false;
    block.dirty = false;
    const h = block.height !== null ? block.height : opts.estimate(block.keys) * scale;
    block.el.style.height = `${Math.max(1, Math.round(h))}px`;
  }

  return {
    /**
     * The items in order. Blocks whose items changed are redrawn (live) or re-estimated (asleep).
     * @param {string[]} next
     */
    setKeys(next) {
      keys = next;
      position = new Map(next.map((k, i) => [k, i]));
      const count = Math.ceil(next.length / size);
      for (let i = 0; i < count; i++) {
        const slice = next.slice(i * size, (i + 1) * size);
        let block = blocks[i];
        if (!block) {
          const node = document.createElement("div");
          node.className = "svc-block";
          node.dataset.block = String(i);
          root.append(node);
          // the first blocks are drawn at once (the top of the page); the observer decides the rest
          block = { el: node, index: i, keys: slice, live: false, want: i < 2, dirty: true, near: i, height: null };
          blocks.push(block);
          observer.observe(node);
          sleep(block);
          continue;
        }
        if (block.keys.join("\n") !== slice.join("\n")) {
          block.keys = slice;
          block.dirty = true;
          block.height = null;
          if (!block.live) sleep(block);
        }
      }
      while (blocks.length > count) {
        const block = /** @type {Block} */ (blocks.pop());
        observer.unobserve(block.el);
        if (block.live) opts.clear(block.el, block.keys);
        block.el.remove();
      }
    },
    /**
     * Draw and put away blocks as the observer asked, nearest first, until `deadline` (performance.now()).
     * Live blocks whose items moved are redrawn whatever the time. Returns whether work is left.
     * @param {number} deadline
     */
    pump(deadline) {
      for (const block of blocks) {
        if (block.live && !block.want) sleep(block);
      }
      for (const block of blocks) {
        if (block.live && block.dirty) {
          opts.fill(block.el, block.keys);
          block.dirty = false;
        }
      }
      const waiting = blocks.filter((b) => b.want && !b.live).sort((a, b) => a.near - b.near);
      for (const block of waiting) {
        if (performance.now() > deadline) return true;
        block.el.style.height = "";
        block.live = true;
        block.dirty = false;
        block.height = null;
        opts.fill(block.el, block.keys);
      }
      return false;
    },
    /** Make the block holding `key` live now (for reveal). @param {string} key */
    wake(key) {
      const i = position.get(key);
      if (i === undefined) return false;
      const block = blocks[Math.floor(i / size)];
      if (!block) return false;
      block.want = true;
      if (!block.live) {
        block.el.style.height = "";
        block.live = true;
        block.height = null;
        opts.fill(block.el, block.keys);
      }
      return true;
    },
    /** The keys of the items drawn now, in order. */
    drawn() {
      /** @type {string[]} */
      const out = [];
      for (const b of blocks) if (b.live) out.push(...b.keys);
      return out;
    },
    /** @param {string} key */
    has(key) {
      return position.has(key);
    },
    get keys() {
      return keys;
    },
    get stats() {
      return {
        blocks: blocks.length,
        live: blocks.filter((b) => b.live).length,
        waiting: blocks.filter((b) => b.want && !b.live).length,
        scale,
      };
    },
  };
}
