import type { Command } from "commander";
import { parseEndpoint } from "../../events/index.js";
import { LookupClient, DEFAULT_LOOKUP_PORT } from "../../overlay/index.js";

interface LookupFlags {
  server: string;
  online?: string;
  role?: string;
  timeoutMs: string;
}

export function register(program: Command): void {
  program
    .command("lookup")
    .description("ask a node's lookup interface which node serves a subscriber, or whether a node is online")
    .argument("[role]", "role, e.g. sip_proxy")
    .argument("[key]", "user@domain")
    .option("--server <host:port>", "node to ask", `127.0.0.1:${DEFAULT_LOOKUP_PORT}`)
    .option("--online <ip>", "ask whether <ip> is online (with --role)")
    .option("--role <role>", "role for --online")
    .option("--timeout-ms <ms>", "answer timeout", "5000")
    .addHelpText("after", "\nExamples:\n  thor lookup sip_proxy alice@example.com --server 10.0.0.1:9500\n  thor lookup --online 10.0.0.2 --role media_relay")
    .action(async (role: string | undefined, key: string | undefined, flags: LookupFlags) => {
      let line: string;
      if (flags.online) {
        if (!flags.role) throw new Error("--online needs --role");
        line = `is_online ${flags.online} as ${flags.role}`;
      } else {
        if (!role || !key) throw new Error("usage: thor lookup <role> <user@domain> [--server host:port]");
        line = `lookup ${role} for ${key}`;
      }
      const { host, port } = parseEndpoint(flags.server, DEFAULT_LOOKUP_PORT);
      const client = new LookupClient(host, port, Number(flags.timeoutMs) || 5000);
      try {
        const answer = await client.request(line);
        process.stdout.write(`${answer}\n`);
        if (answer.startsWith("error:") || answer === "None" || answer === "No") process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
