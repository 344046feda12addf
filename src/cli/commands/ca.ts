import { InvalidArgumentError, type Command } from "commander";
import { resolve } from "node:path";
import { createSecret, initCa, issueCertificate, listCertificates, listSecrets, readCrlInfo, retireSecret, revokeCertificate, writeCrl } from "../../pki/index.js";

/** `--dir`, default from THOR_CA_DIR (read when the command runs) or ./ca. */
const dirOption = (cmd: Command) => cmd.option("--dir <dir>", "CA directory (default: $THOR_CA_DIR or ./ca)");
const caDir = (o: { dir?: string }) => o.dir ?? process.env["THOR_CA_DIR"] ?? "./ca";
/** Accumulate repeated, space-separated (variadic) or comma-separated values. */
const list = (v: string, prev: string[] = []) => [...prev, ...v.split(",").map((s) => s.trim()).filter(Boolean)];
const days = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("not a positive number of days.");
  return n;
};

/** `thor ca init|issue|revoke|crl|list|secret`: the operator CA as files (see docs/pki.md). */
export function register(program: Command): void {
  const ca = program.command("ca").description("operator PKI: CA, member certificates, CRL (files readable with openssl)");

  dirOption(ca.command("init").description("create the CA (ca.crt, ca.key, crl.pem, index.json)"))
    .option("--cn <name>", "CA common name", "sipthor CA")
    .option("--org <o>", "organization (O) of the CA and, by default, of the certificates it issues", "sipthor")
    .option("--days <n>", "validity in days", days, 3650)
    .option("--force", "replace an existing CA (every certificate it issued becomes useless)")
    .action(async (o: { dir?: string; cn: string; org: string; days: number; force?: boolean }) => {
      const dir = caDir(o);
      const res = await initCa(dir, { commonName: o.cn, org: o.org, days: o.days, force: o.force === true });
      process.stdout.write(`CA created: ${resolve(res.certPath)}\nkey: ${resolve(res.keyPath)} (mode 0600, keep it offline)\nCRL: ${resolve(res.crlPath)}\ncluster secret: ${resolve(res.secretPath)} (mode 0600, copy to every member with its certificate)\n`);
    });

  dirOption(ca.command("issue").description("issue a member certificate").argument("<name>", "member name: the certificate CN and member id"))
    .option("--ip <ip...>", "IP addresses for the SubjectAltName (space- or comma-separated, repeatable)", list)
    .option("--dns <name...>", "DNS names for the SubjectAltName (space- or comma-separated, repeatable)", list)
    .option("--org <o>", "organization (O); default the CA's")
    .option("--ou <ou>", "kind of member: node, manager, eventserver, database, monitor, dns, operator (thor drain)", "node")
    .option("--roles <list>", "roles the holder may announce (comma-separated, * = any)", "*")
    .option("--days <n>", "validity in days", days, 825)
    .option("--force", "issue even if a valid certificate of this name exists (the old one stays valid: revoke it)")
    .action(async (name: string, o: { dir?: string; ip?: string[]; dns?: string[]; org?: string; ou: string; roles: string; days: number; force?: boolean }) => {
      const roles = list(o.roles);
      const res = await issueCertificate(caDir(o), name, { ip: o.ip ?? [], dns: o.dns ?? [], ...(o.org ? { org: o.org } : {}), ou: o.ou, roles, days: o.days, force: o.force === true });
      process.stdout.write(`issued ${name} (serial ${res.serial})\ncertificate: ${resolve(res.certPath)}\nkey: ${resolve(res.keyPath)} (mode 0600)\n`);
    });

  dirOption(ca.command("revoke").description("revoke a member's certificate(s) and rewrite the CRL").argument("<name>"))
    .action(async (name: string, o: { dir?: string }) => {
      const dir = caDir(o);
      const serials = await revokeCertificate(dir, name);
      process.stdout.write(`revoked ${name}: serial ${serials.join(", ")}\nCRL rewritten: ${resolve(dir, "crl.pem")} (members reload it within a second or two)\n`);
    });

  dirOption(ca.command("crl").description("re-sign the CRL (do it before its nextUpdate, 30 days)"))
    .action(async (o: { dir?: string }) => {
      process.stdout.write(`CRL written: ${resolve(await writeCrl(caDir(o)))}\n`);
    });

  dirOption(ca.command("list").description("list issued certificates with their status"))
    .option("--json", "print JSON")
    .action((o: { dir?: string; json?: boolean }) => {
      const dir = caDir(o);
      const rows = listCertificates(dir);
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
        return;
      }
      const crl = readCrlInfo(dir);
      const next = crl.nextUpdate ? crl.nextUpdate.toISOString().slice(0, 16).replace("T", " ") : "none";
      const expired = crl.nextUpdate !== undefined && crl.nextUpdate.getTime() <= Date.now();
      process.stdout.write(`CRL: ${crl.serials.length} revoked, next update ${next} UTC${expired ? " - EXPIRED: every handshake fails, run thor ca crl" : " (run thor ca crl before then)"}\n`);
      if (rows.length === 0) process.stdout.write("no certificates issued\n");
      for (const r of rows) {
        process.stdout.write(`${r.status.padEnd(8)} ${r.name.padEnd(16)} ${r.subject.padEnd(40)} ${r.ip.join(",").padEnd(16)} until ${r.notAfter.slice(0, 10)}  serial ${r.serial}\n`);
      }
    });

  const secret = ca.command("secret").description("cluster secrets: HMAC keys that sign Record-Route entries, flow tokens and nonces (see docs/pki.md)");
  dirOption(secret.command("new").description("create a new secret; members sign with it once they have re-read the directory"))
    .action((o: { dir?: string }) => {
      const s = createSecret(caDir(o));
      process.stdout.write(`secret ${s.kid} created: ${resolve(s.path)} (mode 0600); copy ${resolve(caDir(o), "secrets")} to every member, retire the old key after 24 h\n`);
    });
  dirOption(secret.command("list").description("list secrets, newest (the signing one) first"))
    .action((o: { dir?: string }) => {
      const rows = listSecrets(caDir(o));
      if (rows.length === 0) process.stdout.write("no cluster secret (run thor ca secret new)\n");
      rows.forEach((r, i) => process.stdout.write(`${r.kid}  created ${r.createdAt.toISOString().slice(0, 19).replace("T", " ")} UTC  ${i === 0 ? "signing" : "verify only"}\n`));
    });
  dirOption(secret.command("retire").description("remove a secret: what it signed no longer verifies").argument("<kid>"))
    .action((kid: string, o: { dir?: string }) => {
      retireSecret(caDir(o), kid);
      process.stdout.write(`secret ${kid} retired; members stop accepting it when they re-read the directory (10 s)\n`);
    });
}
