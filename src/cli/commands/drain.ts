/**
 * `thor drain <node> [--wait]` and `thor undrain <node>`: take a node out of
 * service without dropping anyone, over the control link with an operator
 * certificate (OU=operator, `thor ca issue <name> --ou operator`). See
 * src/node/drain.ts for what the node does.
 */
import type { Command } from "commander";
import { describeError, silentLogger, sleep } from "../../base/index.js";
import type { DrainStatus } from "../../node/index.js";
import { MembershipFeed, type MembershipSnapshot } from "../../overlay/index.js";
import { bool, ConfigError, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberSchema, toolControlLink } from "../member.js";

const schema = memberSchema.extend({
  timeoutMs: num().int().min(100).default(10_000),
  wait: bool().default(false),
  /** With --wait: give up after this long. */
  waitTimeoutMs: num().int().min(100).default(300_000),
});

async function drainCommand(nodeId: string, draining: boolean, flags: Record<string, unknown>): Promise<void> {
  const cfg = loadMemberConfig(schema, draining ? "drain" : "undrain", { name: "operator", ...flags });
  const identity = await loadIdentity(cfg);
  const bus = await connectEvents(cfg, eventServerSource(cfg), identity, silentLogger);
  const feed = new MembershipFeed();
  const off = feed.follow(bus);
  const member = (snap: MembershipSnapshot | undefined) => snap?.members.find((m) => m.id === nodeId);
  const link = toolControlLink(identity, () => feed.current?.members);
  try {
    const deadline = Date.now() + cfg.timeoutMs;
    while (!member(feed.current) && Date.now() < deadline) await sleep(50);
    if (!feed.current) throw new ConfigError(`no membership snapshot within ${cfg.timeoutMs} ms`);
    if (!member(feed.current)) throw new ConfigError(`${nodeId} is not a member of the network`);
    let status = (await link.call(nodeId, "node.drain", { draining }, cfg.timeoutMs)) as DrainStatus;
    process.stdout.write(`${nodeId} ${draining ? "is draining" : "takes work again"}\n`);
    if (!draining || !cfg.wait) return;
    const until = Date.now() + cfg.waitTimeoutMs;
    let last = "";
    while (!status.empty) {
      if (Date.now() > until) throw new ConfigError(`${nodeId} still busy after ${cfg.waitTimeoutMs} ms: ${status.transactions} transactions, ${status.bindings} bindings`);
      const line = `waiting: ${status.listedDraining ? "out of the rings" : "not yet out of the rings"}, ${status.transactions} transactions, ${status.bindings} bindings`;
      if (line !== last) process.stdout.write(line + "\n");
      last = line;
      await sleep(250);
      status = (await link.call(nodeId, "node.drain-status", {}, cfg.timeoutMs)) as DrainStatus;
    }
    process.stdout.write(`${nodeId} is drained: it can be stopped\n`);
  } catch (err) {
    process.stderr.write(`thor ${draining ? "drain" : "undrain"}: ${describeError(err)}\n`);
    process.exitCode = 1;
  } finally {
    off();
    await link.stop();
    await bus.close(500);
    identity.close();
  }
}

export function register(program: Command): void {
  memberFlags(program.command("drain").description("take a node out of service without dropping anyone (operator certificate, --name default operator)"))
    .argument("<node>", "the node's member id (its certificate CN)")
    .option("--wait", "return once the node has nothing left (no transaction, no binding)")
    .option("--wait-timeout-ms <ms>", "with --wait: give up after this long (default 300000)")
    .option("--timeout-ms <ms>", "for the membership and each call (default 10000)")
    .action((node: string, flags: Record<string, unknown>) => drainCommand(node, true, flags));
  memberFlags(program.command("undrain").description("put a drained node back into service"))
    .argument("<node>", "the node's member id")
    .option("--timeout-ms <ms>", "for the membership and each call (default 10000)")
    .action((node: string, flags: Record<string, unknown>) => drainCommand(node, false, flags));
}
