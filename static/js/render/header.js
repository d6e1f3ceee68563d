// @ts-check
/** The header: which cluster (simulated or real), the stream's state badge, the namespace filter. */

import { clock, el, part, setText } from "../dom.js";

/**
 * @param {HTMLElement} root the <header>
 * @param {{onNamespace: (ns: string) => void}} handlers
 */
export function createHeaderView(root, handlers) {
  const select = /** @type {HTMLSelectElement} */ (part(root, "ns-filter"));
  select.addEventListener("change", () => handlers.onNamespace(select.value));
  /** @type {import("../connection.js").LinkStatus|null} */
  let link = null;
  let sourceState = "live";
  let clusterMode = "";

  /** @param {import("../model.js").Meta} meta */
  function renderCluster(meta) {
    const c = meta.cluster || { mode: "sim", name: "", server: "", namespaces: [], readOnly: false };
    const box = part(root, "cluster");
    box.dataset.mode = c.mode;
    const modeWords = c.mode === "sim" ? "SIMULATED CLUSTER" : c.mode === "replay" ? "REPLAY" : "REAL CLUSTER";
    setText(part(root, "cluster-mode"), modeWords);
    let detail = "";
    if (c.mode === "sim") detail = "practice cluster: made-up pods, IPs, nodes";
    else detail = [c.name ? `context ${c.name}` : "", c.server || ""].filter(Boolean).join(" · ");
    if (c.namespaces && c.namespaces.length) detail += ` · watching ${c.namespaces.join(", ")}`;
    setText(part(root, "cluster-detail"), detail);
    const ro = part(root, "read-only");
    ro.hidden = !(c.readOnly || !meta.actions);
    setText(ro, "READ-ONLY");

    // the server's own link to the cluster
    const conn = meta.connection || { state: "live", message: "", since: null, problems: [] };
    sourceState = conn.state;
    clusterMode = c.mode;
    const banner = part(root, "source");
    const problems = conn.problems || [];
    if (conn.state === "live" && problems.length === 0) {
      banner.hidden = true;
    } else {
      banner.hidden = false;
      banner.dataset.state = conn.state;
      const since = conn.since ? ` since ${clock(conn.since)}` : "";
      const words =
        conn.state === "live"
          ? "Cluster watch: live, with problems"
          : conn.state === "connecting"
            ? "Connecting to the cluster…"
            : conn.state === "reconnecting"
              ? `Reconnecting${since} — data may be stale; retrying`
              : `Cluster watch failed${since}`;
      setText(part(banner, "source-head"), words);
      setText(part(banner, "source-text"), [conn.message, ...problems].filter(Boolean).join(" · "));
    }
    renderBadge();
  }

  /** @param {string[]} namespaces @param {string} current */
  function renderNamespaces(namespaces, current) {
    const want = ["", ...namespaces];
    const have = Array.from(select.options).map((o) => o.value);
    if (want.join("\u0000") !== have.join("\u0000")) {
      select.replaceChildren(
        ...want.map((ns) => el("option", { text: ns === "" ? "all namespaces" : ns, attrs: { value: ns } })),
      );
    }
    if (current && !namespaces.includes(current)) {
      select.append(el("option", { text: `${current} (empty)`, attrs: { value: current } }));
    }
    select.value = current;
  }

  function renderBadge() {
    if (!link) return;
    const badge = part(root, "badge");
    const state = link.state;
    badge.dataset.state = state;
    let head = "";
    let sub = "";
    if (state === "live" && clusterMode === "replay") {
      // the stream is up, but what it carries is a recording, not the cluster as it is now
      head = "▶ REPLAY";
      sub = "played back from a recording";
    } else if (state === "live") {
      head = "● LIVE";
      sub = sourceState === "live" ? "changes appear as they happen" : "page connected; cluster watch is down";
    } else if (state === "connecting") {
      head = "◌ CONNECTING";
      sub = "opening the stream";
    } else if (state === "reconnecting") {
      head = `◐ RECONNECTING since ${clock(link.since, "ms")}`;
      sub = "data may be stale";
    } else {
      head = "✕ STALE";
      sub = `no updates since ${clock(link.since, "ms")} — still retrying`;
    }
    setText(part(badge, "badge-head"), head);
    setText(part(badge, "badge-sub"), sub);
    badge.title = link.lastError ? `last problem: ${link.lastError}` : "";
    document.documentElement.dataset.link = state;
  }

  return {
    /** @param {import("../model.js").Model} model @param {{all: boolean, meta: boolean}} changes @param {string} ns */
    render(model, changes, ns) {
      if (changes.all || changes.meta) {
        renderCluster(model.meta);
        renderNamespaces(model.meta.namespaces || [], ns);
      }
    },
    /** @param {import("../connection.js").LinkStatus} status */
    setLink(status) {
      link = status;
      renderBadge();
    },
    /** @param {string[]} namespaces @param {string} ns */
    setNamespace(namespaces, ns) {
      renderNamespaces(namespaces, ns);
    },
  };
}
