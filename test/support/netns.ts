/**
 * Network namespaces for partition tests (root only): every member in its
 * own namespace `thorp<slot>-<tag>-<member>`, each joined by a veth pair to one
 * bridge in `thorp<slot>-<tag>-hub`, all in one /24 of the run slot's private
 * /16 (`privateNet`, test/support/slot.ts). Nothing is
 * routed out of them: traffic stays inside the test's own namespaces.
 *
 * A partition between two members is a pair of blackhole routes, one in
 * each namespace: their packets are dropped silently, as on a real network
 * split (no error, no reset), and the partition heals when the routes go.
 * {@link Netns.destroy} deletes every namespace it created (the veths go
 * with them); call it also when the test fails.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { netnsPrefix } from "./slot.js";

function ip(args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Why partition tests cannot run here (skip with this message), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "partition tests need root (ip netns, veth pairs)";
  const probe = `${netnsPrefix()}probe-${process.pid}`;
  const add = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (add.error || add.status !== 0) return `ip netns is unavailable: ${add.error?.message ?? add.stderr.trim()}`;
  spawnSync("ip", ["netns", "del", probe]);
  return undefined;
}

export class Netns {
  private readonly created: string[] = [];
  private readonly addrs = new Map<string, string>();
  private readonly hub: string;
  private veths = 0;

  /** `tag` names this test's namespaces (a few letters: interface names are short). */
  constructor(private readonly tag: string) {
    this.hub = this.ns("hub");
    this.destroyLeftovers();
    this.addNs(this.hub);
    ip(["-n", this.hub, "link", "add", "br0", "type", "bridge"]);
    ip(["-n", this.hub, "link", "set", "br0", "up"]);
  }

  /** The namespace of `member`. */
  ns(member: string): string {
    return `${netnsPrefix()}${this.tag}-${member}`;
  }

  /** Give `member` its namespace and address `addr` (a /24) on the bridge. */
  add(member: string, addr: string): string {
    const ns = this.ns(member);
    this.addNs(ns);
    const hubSide = `v${this.veths++}`;
    ip(["-n", this.hub, "link", "add", hubSide, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    ip(["-n", this.hub, "link", "set", hubSide, "master", "br0", "up"]);
    ip(["-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0"]);
    ip(["-n", ns, "link", "set", "eth0", "up"]);
    this.addrs.set(member, addr);
    return ns;
  }

  /** Cut `a` from every member of `others`, both ways. */
  cut(a: string, others: string[]): void {
    for (const b of others) {
      ip(["-n", this.ns(a), "route", "add", "blackhole", `${this.addr(b)}/32`]);
      ip(["-n", this.ns(b), "route", "add", "blackhole", `${this.addr(a)}/32`]);
    }
  }

  /** Undo {@link cut}. */
  heal(a: string, others: string[]): void {
    for (const b of others) {
      ip(["-n", this.ns(a), "route", "del", "blackhole", `${this.addr(b)}/32`]);
      ip(["-n", this.ns(b), "route", "del", "blackhole", `${this.addr(a)}/32`]);
    }
  }

  /** The command line that runs `argv` inside `member`'s namespace. */
  exec(member: string, argv: string[]): [string, string[]] {
    return ["ip", ["netns", "exec", this.ns(member), ...argv]];
  }

  /** Delete every namespace this test created (kill the processes in them first). */
  destroy(): void {
    for (const ns of this.created.splice(0).reverse()) spawnSync("ip", ["netns", "del", ns]);
  }

  private addr(member: string): string {
    const a = this.addrs.get(member);
    if (!a) throw new Error(`no namespace for ${member}`);
    return a;
  }

  private addNs(ns: string): void {
    ip(["netns", "add", ns]);
    this.created.push(ns);
    ip(["-n", ns, "link", "set", "lo", "up"]);
  }

  /** Namespaces of this tag and slot left by a test run that was killed (a run of another slot is left alone). */
  private destroyLeftovers(): void {
    const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
    for (const line of list.split("\n")) {
      const name = line.split(" ")[0] ?? "";
      if (name.startsWith(`${netnsPrefix()}${this.tag}-`)) spawnSync("ip", ["netns", "del", name]);
    }
  }
}
