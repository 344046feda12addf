import { isIP } from "node:net";

/**
 * True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (and `localhost`).
 * Every HTTP surface (provisioning API, XCAP, dashboard) serves plain HTTP
 * on such an address only, unless the operator allows it explicitly.
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./i.test(h);
  return h === "localhost";
}
