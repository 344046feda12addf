import { readFileSync } from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { ProvisioningApiError, ProvisioningClient, type AccountPatchInput } from "../../provisioning/index.js";

/**
 * `thor provision ...`: accounts, aliases, domains (and bulk import, network
 * status) through the provisioning API of any provisioning server.
 * `--api` / `THOR_API_URL` say where; the token comes from `--token-file`
 * or the environment (`THOR_PROVISIONING_TOKEN`, or `THOR_API_TOKEN`),
 * never from the command line, where every user of the machine sees it; `--ca` verifies an HTTPS server. Exit code 0 on success, 1 on an
 * error answer (printed with its code to stderr).
 */
interface GlobalFlags {
  api?: string;
  tokenFile?: string;
  ca?: string;
  json?: boolean;
}

function client(cmd: Command): { api: ProvisioningClient; json: boolean } {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  const url = g.api ?? process.env["THOR_API_URL"];
  if (!url) cmd.error("error: no API address: give --api http(s)://host:port or set THOR_API_URL (thor demo writes it to network.json)");
  let token = process.env["THOR_PROVISIONING_TOKEN"] ?? process.env["THOR_API_TOKEN"];
  if (g.tokenFile) {
    try {
      token = readFileSync(g.tokenFile, "utf8").trim();
    } catch (err) {
      cmd.error(`error: cannot read the token file ${g.tokenFile}: ${(err as Error).message}`);
    }
  }
  return { api: new ProvisioningClient({ url, ...(token ? { token } : {}), ...(g.ca ? { ca: readFileSync(g.ca) } : {}) }), json: g.json === true };
}

function run(cmd: Command, fn: (api: ProvisioningClient) => Promise<unknown>, text?: (v: never) => string): Promise<void> {
  const { api, json } = client(cmd);
  return fn(api)
    .then((v) => {
      if (v === undefined) process.stdout.write("ok\n");
      else process.stdout.write(json || !text ? `${JSON.stringify(v, null, 2)}\n` : text(v as never));
    })
    .catch((err: unknown) => {
      if (err instanceof ProvisioningApiError) {
        process.stderr.write(`error: ${err.code} (${err.status}): ${err.message}\n`);
        if (err.details && !err.message.includes(err.details[0]?.message ?? "")) for (const d of err.details) process.stderr.write(`  ${d.path}: ${d.message}\n`);
      } else process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => api.close());
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
};
const boolArg = (v: string) => {
  if (/^(true|yes|on|1)$/i.test(v)) return true;
  if (/^(false|no|off|0)$/i.test(v)) return false;
  throw new InvalidArgumentError("expected true or false");
};
const nullable = (v: string) => (v === "" || v === "none" ? null : v);

interface AccountRow {
  username: string;
  domain: string;
  displayName: string | null;
  enabled: boolean;
  blocked: boolean;
}
const accountLine = (a: AccountRow) => `${`${a.username}@${a.domain}`.padEnd(36)} ${(a.enabled ? (a.blocked ? "blocked" : "enabled") : "disabled").padEnd(9)} ${a.displayName ?? ""}\n`;
const pageText = <T>(line: (x: T) => string) => (p: { items: T[]; total: number; offset: number }) => p.items.map(line).join("") + `(${p.items.length} of ${p.total}${p.offset ? `, from ${p.offset}` : ""})\n`;

export function register(program: Command): void {
  const prov = program
    .command("provision")
    .description("manage accounts, aliases and domains through the provisioning API")
    .option("--api <url>", "provisioning API, e.g. http://127.0.1.102:9280 (default THOR_API_URL)")
    .option("--token-file <file>", "file holding the API token (default: THOR_PROVISIONING_TOKEN or THOR_API_TOKEN from the environment; never on the command line)")
    .option("--ca <file>", "CA certificate to verify an HTTPS API with")
    .option("--json", "print the API's JSON answers")
    .addHelpText("after", "\nExamples:\n  thor provision domain add example.com\n  thor provision account add alice@example.com --password alice-secret --display-name Alice\n  thor provision account set alice@example.com --blocked true\n  thor provision alias add +4930123456 --to alice@example.com --did\n  thor provision account list --domain example.com");

  const domain = prov.command("domain").description("SIP domains");
  domain.command("add <name>").option("--description <text>").option("--disabled", "create it disabled").action((name: string, f: { description?: string; disabled?: boolean }, cmd: Command) =>
    run(cmd, (api) => api.createDomain({ name, ...(f.description ? { description: f.description } : {}), ...(f.disabled ? { enabled: false } : {}) }), (d: { name: string }) => `domain ${d.name} created\n`),
  );
  domain.command("list").option("--limit <n>", "", int).option("--offset <n>", "", int).action((f: { limit?: number; offset?: number }, cmd: Command) =>
    run(cmd, (api) => api.listDomains({ limit: f.limit, offset: f.offset }), pageText((d: { name: string; enabled: boolean }) => `${d.name.padEnd(40)} ${d.enabled ? "enabled" : "disabled"}\n`)),
  );
  domain.command("del <name>").action((name: string, _f: unknown, cmd: Command) => run(cmd, (api) => api.deleteDomain(name)));

  const account = prov.command("account").description("SIP accounts (user@domain)");
  account
    .command("add <aor>")
    .requiredOption("--password <password>", "stored only as HA1 (MD5 and SHA-256)")
    .option("--display-name <name>")
    .option("--blocked", "create it blocked")
    .option("--group <name...>", "groups")
    .action((aor: string, f: { password: string; displayName?: string; blocked?: boolean; group?: string[] }, cmd: Command) => {
      const at = aor.lastIndexOf("@");
      if (at <= 0) cmd.error(`error: "${aor}" is not user@domain`);
      return run(
        cmd,
        (api) => api.createAccount({ username: aor.slice(0, at), domain: aor.slice(at + 1), password: f.password, ...(f.displayName ? { displayName: f.displayName } : {}), ...(f.blocked ? { blocked: true } : {}), ...(f.group ? { groups: f.group } : {}) }),
        (a: AccountRow) => `account ${a.username}@${a.domain} created\n`,
      );
    });
  account.command("show <aor>").action((aor: string, _f: unknown, cmd: Command) => run(cmd, (api) => api.getAccount(aor)));
  account
    .command("list")
    .option("--domain <domain>")
    .option("--q <text>", "part of the username or display name")
    .option("--blocked <bool>", "", boolArg)
    .option("--limit <n>", "", int)
    .option("--offset <n>", "", int)
    .action((f: { domain?: string; q?: string; blocked?: boolean; limit?: number; offset?: number }, cmd: Command) => run(cmd, (api) => api.listAccounts({ ...f }), pageText(accountLine)));
  account
    .command("set <aor>")
    .option("--password <password>")
    .option("--display-name <name>", "('none' clears it)", nullable)
    .option("--enabled <bool>", "", boolArg)
    .option("--blocked <bool>", "", boolArg)
    .option("--forward-unconditional <uri>", "sip:/tel: target ('none' clears it)", nullable)
    .option("--forward-busy <uri>", "", nullable)
    .option("--forward-no-answer <uri>", "", nullable)
    .option("--forward-no-answer-timeout <s>", "", int)
    .option("--forward-unavailable <uri>", "", nullable)
    .option("--dnd <bool>", "do not disturb", boolArg)
    .option("--block-incoming <pattern...>", "refused callers (replaces the list)")
    .option("--block-outgoing <pattern...>", "refused callees (replaces the list)")
    .action((aor: string, f: Record<string, unknown>, cmd: Command) => {
      const patch: AccountPatchInput = {};
      const features: NonNullable<AccountPatchInput["features"]> = {};
      if (f["password"] !== undefined) patch.password = f["password"] as string;
      if (f["displayName"] !== undefined) patch.displayName = f["displayName"] as string | null;
      if (f["enabled"] !== undefined) patch.enabled = f["enabled"] as boolean;
      if (f["blocked"] !== undefined) patch.blocked = f["blocked"] as boolean;
      for (const k of ["forwardUnconditional", "forwardBusy", "forwardNoAnswer", "forwardUnavailable"] as const) if (f[k] !== undefined) features[k] = f[k] as string | null;
      if (f["forwardNoAnswerTimeout"] !== undefined) features.forwardNoAnswerTimeout = f["forwardNoAnswerTimeout"] as number;
      if (f["dnd"] !== undefined) features.dnd = f["dnd"] as boolean;
      if (f["blockIncoming"] !== undefined) features.blockIncoming = f["blockIncoming"] as string[];
      if (f["blockOutgoing"] !== undefined) features.blockOutgoing = f["blockOutgoing"] as string[];
      if (Object.keys(features).length) patch.features = features;
      if (Object.keys(patch).length === 0) cmd.error("error: nothing to change (see thor provision account set --help)");
      return run(cmd, (api) => api.updateAccount(aor, patch), (a: AccountRow) => `account ${a.username}@${a.domain} changed\n`);
    });
  account.command("del <aor>").action((aor: string, _f: unknown, cmd: Command) => run(cmd, (api) => api.deleteAccount(aor)));

  const alias = prov.command("alias").description("aliases and phone numbers (DIDs) mapping to accounts");
  alias
    .command("add <alias>")
    .requiredOption("--to <aor>", "the account it maps to")
    .option("--did", "a phone number (+E.164), in the account's domain unless @domain is given")
    .action((name: string, f: { to: string; did?: boolean }, cmd: Command) =>
      run(cmd, (api) => api.createAlias({ alias: name, account: f.to, kind: f.did ? "did" : "alias" }), (a: { alias: string; account: string }) => `${a.alias} → ${a.account}\n`),
    );
  alias.command("list").option("--account <aor>").option("--domain <domain>").option("--limit <n>", "", int).option("--offset <n>", "", int).action((f: Record<string, string | number | undefined>, cmd: Command) =>
    run(cmd, (api) => api.listAliases(f), pageText((a: { alias: string; account: string; kind: string }) => `${a.alias.padEnd(36)} ${a.kind.padEnd(6)} → ${a.account}\n`)),
  );
  alias.command("del <alias>").action((name: string, _f: unknown, cmd: Command) => run(cmd, (api) => api.deleteAlias(name)));

  prov.command("import <file>").description("bulk import a JSON file {domains, accounts, aliases} in one transaction").action((file: string, _f: unknown, cmd: Command) =>
    run(cmd, (api) => api.importAll(JSON.parse(readFileSync(file, "utf8")) as Parameters<ProvisioningClient["importAll"]>[0]), (r: { domains: number; accounts: number; aliases: number }) => `imported ${r.domains} domain(s), ${r.accounts} account(s), ${r.aliases} alias(es)\n`),
  );
  prov.command("status").description("live membership of the network").action((_f: unknown, cmd: Command) => run(cmd, (api) => api.networkStatus()));
  prov.command("statistics").description("per-role statistics of the network").action((_f: unknown, cmd: Command) => run(cmd, (api) => api.networkStatistics()));
}
