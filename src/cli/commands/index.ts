import type { Command } from "commander";

type Registrar = (program: Command) => void;

/**
 * Every `thor` subcommand: one module each, registering itself on the
 * program, loaded only when asked for. A member process loads the modules
 * of its own command and not, say, the SIP stack, fastify and the database
 * drivers of the others: start-up time is CPU time on a loaded host, paid by
 * every member at every (re)start.
 */
const loaders: Readonly<Record<string, () => Promise<{ register: Registrar }>>> = {
  ca: () => import("./ca.js"),
  eventserver: () => import("./eventserver.js"),
  manager: () => import("./manager.js"),
  node: () => import("./node.js"),
  database: () => import("./database.js"),
  monitor: () => import("./monitor.js"),
  lookup: () => import("./lookup.js"),
  location: () => import("./location.js"),
  sip: () => import("./sip.js"),
  demo: () => import("./demo.js"),
  dns: () => import("./dns.js"),
  provision: () => import("./provision.js"),
  check: () => import("./check.js"),
  drain: () => import("./drain.js"),
  dashboard: () => import("./dashboard.js"),
};

/** The commands to register for `argv`: only the one it names, or all of them (help, version, an unknown name). */
export async function commandsFor(argv: readonly string[]): Promise<Registrar[]> {
  const name = argv[0];
  const one = name !== undefined && Object.hasOwn(loaders, name) ? loaders[name] : undefined;
  const modules = await Promise.all(one ? [one()] : Object.values(loaders).map((load) => load()));
  return modules.map((m) => m.register);
}
