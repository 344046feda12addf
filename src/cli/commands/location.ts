import type { Command } from "commander";
import { z } from "zod";
import { describeError, silentLogger } from "../../base/index.js";
import { MembershipFeed, normalizeKey, RoleMap, type MembershipSnapshot } from "../../overlay/index.js";
import { DEFAULT_REPLICAS } from "../../roles/index.js";
import type { Binding } from "../../sip/index.js";
import { ConfigError, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberSchema, toolControlLink } from "../member.js";

const schema = memberSchema.extend({
  replicas: num().int().min(1).max(5).default(DEFAULT_REPLICAS),
  timeoutMs: num().int().min(100).default(10_000),
});

interface HolderView {
  node: string;
  ip: string;
  role: "responsible" | "replica";
  bindings?: Binding[];
  error?: string;
}

/**
 * `thor location <user@domain>`: the operator's view of one subscriber in
 * the distributed SIP service: which node is responsible for it, which
 * nodes hold its bindings, and through which edge node each binding is
 * reachable. It joins the event servers to read the membership, then asks
 * each holder over the control link (read-only; a certificate with
 * OU=monitor or OU=node).
 */
export function register(program: Command): void {
  memberFlags(program.command("location").description("show where a subscriber's registrations are: responsible node, replicas, bindings and their edge nodes"))
    .argument("<aor>", "user@domain (a SIP URI is normalized first)")
    .option("--replicas <n>", "holders per AOR, as configured on the nodes (default 2)")
    .option("--timeout-ms <ms>", "how long to wait for the membership and the answers (default 10000)")
    .option("--json", "print JSON")
    .action(async (aorText: string, flags: Record<string, unknown>) => {
      const { json, ...rest } = flags;
      const cfg = loadMemberConfig(schema, "location", rest);
      const key = normalizeKey(aorText);
      if (!key.ok) throw new ConfigError(`invalid address ${aorText}: ${key.reason}`);
      // Output is the answer (JSON for scripts): link chatter stays out of it; failures are in the answer.
      const log = silentLogger;
      const identity = await loadIdentity(cfg);
      const bus = await connectEvents(cfg, eventServerSource(cfg), identity, log);
      // The one membership feed decides which snapshot counts (manager certificate, order).
      const feed = new MembershipFeed();
      const snapshot = await new Promise<MembershipSnapshot | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), cfg.timeoutMs);
        const offFeed = feed.follow(bus);
        const off = feed.subscribe((u) => {
          clearTimeout(timer);
          off();
          offFeed();
          resolve(u.snapshot);
        });
      });
      let map: RoleMap | undefined;
      const link = toolControlLink(identity, () => map?.members);
      try {
        if (!snapshot) throw new ConfigError(`no membership snapshot within ${cfg.timeoutMs} ms`);
        map = RoleMap.fromMembers(snapshot.members);
        const holders = map.successors("sip_proxy", key.key, cfg.replicas);
        const views: HolderView[] = await Promise.all(
          holders.map(async (h, i): Promise<HolderView> => {
            const base = { node: h.id, ip: h.ip, role: i === 0 ? ("responsible" as const) : ("replica" as const) };
            try {
              return { ...base, bindings: (await link.call(h.id, "sip.lookup", { aor: key.key }, cfg.timeoutMs)) as Binding[] };
            } catch (err) {
              return { ...base, error: describeError(err) };
            }
          }),
        );
        if (json) process.stdout.write(JSON.stringify({ aor: key.key, holders: views }, null, 2) + "\n");
        else process.stdout.write(render(key.key, views));
        if (views.length === 0 || views.every((v) => v.error !== undefined)) process.exitCode = 1;
      } finally {
        await link.stop();
        await bus.close();
        identity.close();
      }
    });
}

function render(aor: string, views: HolderView[]): string {
  const out = [`${aor}`];
  if (views.length === 0) out.push("  no sip_proxy node in the membership");
  for (const v of views) {
    out.push(`  ${v.role.padEnd(11)} ${v.node} (${v.ip})${v.error ? `  unreachable: ${v.error}` : `  ${v.bindings?.length ?? 0} binding(s)`}`);
    for (const b of v.bindings ?? []) {
      const left = Math.max(0, Math.round((b.expires - Date.now()) / 1000));
      out.push(`    ${b.uri}  expires in ${left} s  via edge ${b.edge ?? v.node}  ${b.transport} from ${b.source.address}:${b.source.port}`);
    }
  }
  return out.join("\n") + "\n";
}
