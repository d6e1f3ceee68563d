// @ts-check
/** The legacy v1 Endpoints object as `kubectl describe endpoints` lays it out. */

/**
 * @param {import("../model.js").ServiceView} svc
 * @returns {string[]}
 */
export function legacyLines(svc) {
  const lines = [`Name:         ${svc.name}`, `Namespace:    ${svc.namespace}`];
  const ep = svc.endpoints;
  if (!ep) {
    lines.push("", "No Endpoints object for this Service.");
    if (svc.type === "ExternalName") lines.push("(ExternalName Services get none.)");
    else if (!svc.selector) lines.push("(No selector: nobody wrote one by hand.)");
    return lines;
  }
  if (ep.overCapacity) {
    lines.push("Annotations:  endpoints.kubernetes.io/over-capacity: truncated");
    lines.push("⚠ OVER CAPACITY: more than 1000 addresses, the list below is cut to 1000");
  }
  lines.push("Subsets:");
  if (!ep.subsets || ep.subsets.length === 0) {
    lines.push("  <none>  (ENDPOINTS column: <none>)");
    return lines;
  }
  for (const sub of ep.subsets) {
    const ready = (sub.addresses || []).map((a) => a.ip).join(",") || "<none>";
    const notReady = (sub.notReadyAddresses || []).map((a) => a.ip).join(",") || "<none>";
    lines.push(`  Addresses:          ${ready}`);
    lines.push(`  NotReadyAddresses:  ${notReady}`);
    lines.push("  Ports:");
    lines.push("    Name     Port  Protocol");
    lines.push("    ----     ----  --------");
    for (const p of sub.ports || []) {
      lines.push(`    ${(p.name || "<unset>").padEnd(8)} ${String(p.port).padEnd(5)} ${p.protocol}`);
    }
    lines.push("");
  }
  return lines;
}
