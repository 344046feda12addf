import { InvalidArgumentError, type Command } from "commander";
import { parseEndpoint } from "../../events/index.js";
import { LookupClient, DEFAULT_LOOKUP_PORT, DEFAULT_LOOKUP_TIMEOUT_MS, formatRequest, normalizeKey, parseAnswer } from "../../overlay/index.js";

interface LookupFlags {
  server: string;
  online?: string;
  role?: string;
  timeoutMs: number;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/**
 * `thor lookup <role> <user@domain>` and `thor lookup --online <ip> --role <role>`:
 * one request to a node's lookup interface; prints the answer line as is.
 * Exit code 0 for an address or `Yes`, 1 for `None`, `No` or an error answer.
 */
export function register(program: Command): void {
  program
    .command("lookup")
    .description("ask a node's lookup interface which node serves a subscriber, or whether a node is online")
    .argument("[role]", "role, e.g. sip_proxy")
    .argument("[key]", "user@domain (a SIP URI or name-addr is normalized first)")
    .option("--server <host:port>", "node to ask", `127.0.0.1:${DEFAULT_LOOKUP_PORT}`)
    .option("--online <ip>", "ask whether <ip> is online (with --role)")
    .option("--role <role>", "role for --online")
    .option("--timeout-ms <ms>", "answer timeout", positiveInt, DEFAULT_LOOKUP_TIMEOUT_MS)
    .addHelpText(
      "after",
      "\nExit code 0 for an address or Yes; 1 for None, No or an error answer.\n\nExamples:\n  thor lookup sip_proxy alice@example.com --server 10.0.0.1:9500\n  thor lookup --online 10.0.0.2 --role media_relay",
    )
    .action(async (role: string | undefined, key: string | undefined, flags: LookupFlags, cmd: Command) => {
      let line: string;
      if (flags.online !== undefined) {
        if (flags.role === undefined) cmd.error("error: --online needs --role <role>");
        if (role !== undefined) cmd.error("error: give either <role> <user@domain> or --online <ip> --role <role>, not both");
        line = formatRequest({ kind: "is_online", ip: flags.online, role: flags.role });
      } else {
        if (role === undefined || key === undefined) cmd.error("error: usage: thor lookup <role> <user@domain> [--server host:port]");
        const norm = normalizeKey(key);
        if (!norm.ok) cmd.error(`error: invalid key: ${norm.reason}`);
        line = formatRequest({ kind: "lookup", role, key: norm.key });
      }
      const { host, port } = parseEndpoint(flags.server, DEFAULT_LOOKUP_PORT);
      const client = new LookupClient(host, port, flags.timeoutMs);
      try {
        const answer = await client.request(line);
        process.stdout.write(`${answer}\n`);
        const kind = parseAnswer(answer).kind;
        if (kind !== "address" && kind !== "yes") process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
