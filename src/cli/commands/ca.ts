import type { Command } from "commander";
import { resolve } from "node:path";
import { initCa, issueCertificate, listCertificates, revokeCertificate, writeCrl } from "../../pki/index.js";

const dirOption = (cmd: Command) => cmd.option("--dir <dir>", "CA directory (env THOR_CA_DIR)", process.env["THOR_CA_DIR"] ?? "./ca");
const csv = (v: string, prev: string[] = []) => [...prev, ...v.split(",").map((s) => s.trim()).filter(Boolean)];

export function register(program: Command): void {
  const ca = program.command("ca").description("operator PKI: CA, member certificates, CRL (files readable with openssl)");

  dirOption(ca.command("init").description("create the CA"))
    .option("--cn <name>", "CA common name", "sipthor CA")
    .option("--org <o>", "organization (O) of the CA and, by default, of the certificates it issues", "sipthor")
    .option("--days <n>", "validity in days", "3650")
    .option("--force", "replace an existing CA")
    .action(async (o: { dir: string; cn: string; org: string; days: string; force?: boolean }) => {
      const { certPath } = await initCa(o.dir, { commonName: o.cn, org: o.org, days: Number(o.days), force: o.force === true });
      process.stdout.write(`CA created: ${resolve(certPath)}\nkey: ${resolve(o.dir, "ca.key")} (keep it offline)\nCRL: ${resolve(o.dir, "crl.pem")}\n`);
    });

  dirOption(ca.command("issue").description("issue a member certificate").argument("<name>", "member name: the certificate CN and member id"))
    .option("--ip <ip>", "IP address for the SubjectAltName (repeatable or comma-separated)", csv)
    .option("--dns <name>", "DNS name for the SubjectAltName (repeatable or comma-separated)", csv)
    .option("--org <o>", "organization (O); default the CA's")
    .option("--ou <ou>", "kind of member: node, manager, eventserver, database, monitor", "node")
    .option("--roles <list>", "roles the holder may announce (comma-separated, * = any)", "*")
    .option("--days <n>", "validity in days", "825")
    .option("--force", "issue even if a valid certificate of this name exists")
    .action(async (name: string, o: { dir: string; ip?: string[]; dns?: string[]; org?: string; ou: string; roles: string; days: string; force?: boolean }) => {
      const roles = o.roles.split(",").map((r) => r.trim()).filter(Boolean);
      const res = await issueCertificate(o.dir, name, { ip: o.ip ?? [], dns: o.dns ?? [], ...(o.org ? { org: o.org } : {}), ou: o.ou, roles, days: Number(o.days), force: o.force === true });
      process.stdout.write(`issued ${name} (serial ${res.serial})\ncertificate: ${resolve(res.certPath)}\nkey: ${resolve(res.keyPath)}\n`);
    });

  dirOption(ca.command("revoke").description("revoke a member's certificate and rewrite the CRL").argument("<name>"))
    .action(async (name: string, o: { dir: string }) => {
      const serials = await revokeCertificate(o.dir, name);
      process.stdout.write(`revoked ${name}: ${serials.join(", ")}\nCRL rewritten: ${resolve(o.dir, "crl.pem")} (members reload it within a second or two)\n`);
    });

  dirOption(ca.command("crl").description("rewrite the CRL (e.g. before its nextUpdate)"))
    .action(async (o: { dir: string }) => {
      process.stdout.write(`CRL written: ${resolve(await writeCrl(o.dir))}\n`);
    });

  dirOption(ca.command("list").description("list issued certificates"))
    .option("--json", "print JSON")
    .action((o: { dir: string; json?: boolean }) => {
      const rows = listCertificates(o.dir);
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
        return;
      }
      for (const r of rows) process.stdout.write(`${r.status.padEnd(8)} ${r.name.padEnd(16)} ${r.subject.padEnd(40)} ${r.ip.join(",").padEnd(16)} until ${r.notAfter.slice(0, 10)}  serial ${r.serial}\n`);
    });
}
