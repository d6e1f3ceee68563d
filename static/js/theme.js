// @ts-check
/** Light or dark page (both high contrast), chosen with a button and kept in localStorage. */

const KEY = "slicescope.theme";

/** @returns {"light"|"dark"} */
export function savedTheme() {
  try {
    const v = localStorage.getItem(KEY);
    if (v === "light" || v === "dark") return v;
  } catch {
    /* private mode */
  }
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** @param {"light"|"dark"} theme */
export function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const meta = document.querySelector('meta[name="color-scheme"]');
  if (meta) meta.setAttribute("content", theme);
  for (const b of document.querySelectorAll('[data-part="theme-toggle"]')) {
    b.setAttribute("aria-pressed", String(theme === "dark"));
    b.textContent = theme === "dark" ? "☀ light" : "☾ dark";
  }
}

/** Wire the toggle button(s) and apply the saved choice. */
export function installTheme() {
  applyTheme(savedTheme());
  for (const b of document.querySelectorAll('[data-part="theme-toggle"]')) {
    b.addEventListener("click", () => {
      const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      try {
        localStorage.setItem(KEY, next);
      } catch {
        /* private mode: this page only */
      }
      applyTheme(next);
    });
  }
}
