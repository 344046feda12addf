/**
 * What the end-to-end tests of the distributed SIP service share
 * (test/e2e/sip-cluster.test.ts, test/e2e/sip-cluster-failover.test.ts):
 * the users file, starting a lab's members, the bindings each node
 * reports, and the nodes' warnings for assertion messages.
 */
import { writeFileSync } from "node:fs";
import { FORMATION_MS, type Lab } from "./lab.js";
import { waitFor } from "./wait-for.js";

export const DOMAIN = "example.com";
export const password = (u: string) => `${u}-secret`;

export function writeUsers(file: string, users: readonly string[]): void {
  writeFileSync(file, users.map((u) => `[[users]]\nusername = "${u}"\npassword = "${password(u)}"\n`).join("\n"));
}

/** Start a lab's members, the nodes with `nodeArgs`; wait for `nodes` of them in the snapshot, each answering SIP. */
export async function startLab(lab: Lab, nodes: number, nodeArgs: string[]): Promise<void> {
  for (const kind of ["eventserver", "manager", "database"] as const) for (const m of lab.of(kind)) lab.start(m.name);
  for (const m of lab.of("node").slice(0, nodes)) lab.start(m.name, nodeArgs);
  await lab.observe();
  await waitFor(() => (lab.view.snapshot?.members.length ?? 0) === nodes, { timeoutMs: FORMATION_MS, message: `${nodes} nodes in the snapshot` });
  await lab.sipReady();
}

/** Bindings a node reported on Thor.Statistics after `since` (wall-clock ms). */
export function freshBindings(lab: Lab, id: string, since = 0): number | undefined {
  const report = lab.view.statistics.get(id);
  return report && report.at > since ? report.roles["sip_proxy"]?.["bindings"] : undefined;
}

/** The nodes' latest warnings and errors, for assertion messages, and the info lines that say a message did not leave (lost ACKs and BYEs leave no warning). */
export function nodeWarnings(lab: Lab): string {
  const telling = (l: { level?: number; msg?: string }) => (l.level ?? 0) >= 40 || /^(send failed|request dropped|internal SIP peer)/.test(l.msg ?? "");
  const lines = [...lab.procs.values()].flatMap((p) => p.logs.filter(telling).map((l) => `${p.name} ${JSON.stringify(l)}`));
  return `--- node warnings (last 40 of ${lines.length}) ---\n${lines.slice(-40).join("\n")}`;
}
