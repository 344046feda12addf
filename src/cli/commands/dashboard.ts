/**
 * `thor dashboard`: the web view of the network (members, roles and
 * versions, each role's ring drawn as arcs, the active manager, per-node
 * figures, live events), kept live with server-sent events.
 *
 * Its own member rather than a mode of `thor monitor`: the terminal monitor
 * is an interactive tool an operator starts and stops, the dashboard a
 * long-running service (with its own operations port) on a management host.
 * Both follow the network the same way, through the monitor's NetworkView
 * (the one membership feed), with a read-only certificate (OU=monitor).
 *
 * Access: an operator token (`--token-file`, one per line) or, over HTTPS,
 * an operator certificate (OU=operator). HTTPS with the member's
 * certificate by default, plain HTTP only on loopback or when allowed (as
 * the provisioning API and XCAP).
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { systemClock } from "../../base/index.js";
import { isLoopback } from "../../http/index.js";
import { DashboardServer, DEFAULT_DASHBOARD_LISTEN, DEFAULT_DASHBOARD_MAX_CLIENTS, NetworkView, OperatorAuth, type CertificateVerdict } from "../../monitor/index.js";
import type { TLSSocket } from "node:tls";
import { authorizePeer, formatSubject, parsePassport, type TlsIdentity } from "../../pki/index.js";
import { bool, ConfigError, num } from "../config.js";
import { connectEvents, eventServerSource, loadIdentity, loadMemberConfig, memberFlags, memberLogger, memberSchema, tlsPaths, untilSignal } from "../member.js";
import { busMetrics, parseListen, startOps } from "../ops.js";

const schema = memberSchema.extend({
  /** `host:port` of the dashboard. */
  listen: z.string().default(DEFAULT_DASHBOARD_LISTEN),
  /** File with the operator tokens, one per line (`#` comments); keep it 0600. */
  tokenFile: z.string().optional(),
  /** Serve HTTPS with the member's certificate (and accept operator certificates); default: on unless `listen` is loopback. */
  tls: bool().optional(),
  /** Allow plain HTTP on a non-loopback address (the token travels in clear). */
  allowPlainHttp: bool().default(false),
  maxClients: num().int().min(1).max(1024).default(DEFAULT_DASHBOARD_MAX_CLIENTS),
});

/** The operator tokens of `path`: one per line, blank lines and `#` comments skipped. */
export function readOperatorTokens(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`token_file: cannot read ${path}: ${(err as Error).message}`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

const OPERATOR = [parsePassport("OU=operator")];

/** The dashboard's verdict on a TLS client: a certificate of our CA, not revoked (current CRL), with OU=operator. */
export function operatorCertificateCheck(identity: TlsIdentity): (socket: TLSSocket) => CertificateVerdict {
  return (socket) => {
    if (!socket.authorized) return { type: "none" };
    const verdict = authorizePeer(socket, identity, OPERATOR);
    if (verdict.ok) return { type: "operator", who: formatSubject(verdict.peer.subject) };
    return { type: "refused", reason: `not an operator certificate: ${verdict.reason}` };
  };
}

export function register(program: Command): void {
  memberFlags(program.command("dashboard").description("web dashboard of the network: members, rings, managers, per-node figures, live events (operator token or certificate)"))
    .option("--listen <host:port>", `dashboard address (default ${DEFAULT_DASHBOARD_LISTEN})`)
    .option("--token-file <file>", "operator tokens, one per line (at least 16 characters each)")
    .option("--tls [bool]", "serve HTTPS with our certificate and accept operator certificates (default: on unless the address is loopback)")
    .option("--allow-plain-http", "allow plain HTTP on a non-loopback address")
    .option("--max-clients <n>", `live pages served at once (default ${DEFAULT_DASHBOARD_MAX_CLIENTS})`)
    .action(async (flags: Record<string, unknown>) => {
      const cfg = loadMemberConfig(schema, "dashboard", flags);
      const log = memberLogger(cfg, "dashboard");
      const { host, port } = parseListen(cfg.listen);
      const tls = cfg.tls ?? !(isLoopback(host) || cfg.allowPlainHttp);
      const tokens = cfg.tokenFile ? readOperatorTokens(cfg.tokenFile) : [];
      if (tokens.length === 0 && !tls) throw new ConfigError("the dashboard needs an operator credential: give token_file (one token per line), or serve HTTPS (tls) for operator certificates");
      let auth: OperatorAuth;
      try {
        auth = new OperatorAuth(tokens);
      } catch (err) {
        throw new ConfigError(`token_file: ${(err as Error).message}`);
      }
      const servers = eventServerSource(cfg);
      const identity = await loadIdentity(cfg);
      const bus = await connectEvents(cfg, servers, identity, log);
      const view = new NetworkView(systemClock);
      const detach = view.attach(bus);
      const paths = tlsPaths(cfg);
      const checkCertificate = operatorCertificateCheck(identity);
      const server = new DashboardServer({
        host,
        port,
        logger: log.child({ part: "dashboard" }),
        view,
        auth,
        maxClients: cfg.maxClients,
        allowPlainHttp: cfg.allowPlainHttp,
        ...(tls ? { tls: { cert: readFileSync(paths.cert), key: readFileSync(paths.key), ca: readFileSync(paths.ca) }, checkCertificate } : {}),
      });
      await server.start();
      const ops = await startOps(cfg, log, "dashboard", (metrics, health) => {
        busMetrics(metrics, health, bus);
        metrics.gauge("thor_dashboard_clients", "Live dashboard pages (event streams) open", [], () => server.clientCount);
        metrics.counter("thor_dashboard_events_total", "Dashboard pushes sent, streams refused (too many) or dropped (too slow), requests refused (401/403)", ["kind"], () => Object.entries(server.stats).map(([kind, v]) => [{ kind }, v] as const));
        health.check("membership", () => (view.snapshot ? { ok: true, detail: `epoch ${view.snapshot.epoch}, ${view.snapshot.members.length} members` } : { ok: false, detail: "no membership snapshot yet" }));
      });
      await untilSignal(log, async () => {
        await ops?.stop();
        await server.stop();
        detach();
        await bus.close();
        identity.close();
      });
    });
}
