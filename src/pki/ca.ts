/**
 * The operator CA, as files an operator can inspect with openssl:
 *
 *   <dir>/ca.crt, ca.key (0600)    the CA (EC P-256, self-signed)
 *   <dir>/crl.pem                  the CRL (all revoked serials)
 *   <dir>/index.json               what was issued: name, serial, subject, IPs, expiry, revocation
 *   <dir>/certs/<name>.crt, .key   member certificates (serverAuth + clientAuth)
 *
 * Member certificates name their holder in the subject (`CN=<name>,
 * O=<org>, OU=<kind>`), their addresses in the SubjectAltName, and the roles
 * they may announce as `urn:thor:role:<role>` URIs (`*` = any).
 */
import "reflect-metadata";
import { webcrypto, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { PkiExistsError, PkiInvalidError, PkiNotFoundError } from "./errors.js";
import { DEFAULT_CA_DAYS, DEFAULT_CERT_DAYS, DEFAULT_CRL_DAYS, ROLE_URI_PREFIX } from "./options.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface IndexEntry {
  name: string;
  serial: string;
  subject: string;
  ip: string[];
  roles: string[];
  notAfter: string;
  revokedAt?: string;
}

export type CertificateStatus = IndexEntry & { status: "valid" | "revoked" | "expired" };

function write(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function escapeDn(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, "\\$1");
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10;
  return b.toString("hex");
}

async function exportKey(key: Key): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKey(pem: string): Promise<Key> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new PkiInvalidError("no key in PEM");
  return webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
}

interface LoadedCa {
  cert: x509.X509Certificate;
  key: Key;
}

async function loadCa(dir: string): Promise<LoadedCa> {
  const certPath = join(dir, "ca.crt");
  if (!existsSync(certPath)) throw new PkiNotFoundError(`no CA in ${dir} (run: thor ca init --dir ${dir})`);
  return { cert: new x509.X509Certificate(readFileSync(certPath, "utf8")), key: await importKey(readFileSync(join(dir, "ca.key"), "utf8")) };
}

export function readIndex(dir: string): IndexEntry[] {
  const p = join(dir, "index.json");
  if (!existsSync(p)) return [];
  return JSON.parse(readFileSync(p, "utf8")) as IndexEntry[];
}

function writeIndex(dir: string, entries: IndexEntry[]): void {
  write(join(dir, "index.json"), JSON.stringify(entries, null, 2) + "\n");
}

export interface InitCaOptions {
  /** @default "sipthor CA" */
  commonName?: string;
  /** @default "sipthor" */
  org?: string;
  days?: number;
  /** Replace an existing CA (every certificate it issued becomes useless). */
  force?: boolean;
}

export async function initCa(dir: string, opts: InitCaOptions = {}): Promise<{ certPath: string }> {
  const certPath = join(dir, "ca.crt");
  if (existsSync(certPath) && !opts.force) throw new PkiExistsError(`a CA already exists in ${dir} (use --force to replace it)`);
  mkdirSync(join(dir, "certs"), { recursive: true });
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeDn(opts.commonName ?? "sipthor CA")}, O=${escapeDn(opts.org ?? "sipthor")}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (opts.days ?? DEFAULT_CA_DAYS) * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  write(join(dir, "ca.key"), await exportKey(keys.privateKey), 0o600);
  write(certPath, cert.toString("pem") + "\n");
  writeIndex(dir, []);
  await writeCrl(dir);
  return { certPath };
}

export interface IssueOptions {
  ip?: string[];
  dns?: string[];
  /** @default the CA's O */
  org?: string;
  /** @default "node" */
  ou?: string;
  /** Roles the holder may announce. @default ["*"] */
  roles?: string[];
  days?: number;
  /** Issue again even if a valid certificate of this name exists. */
  force?: boolean;
}

export async function issueCertificate(dir: string, name: string, opts: IssueOptions = {}): Promise<{ certPath: string; keyPath: string; serial: string }> {
  if (!NAME.test(name)) throw new PkiInvalidError(`invalid certificate name "${name}" (letters, digits, . _ -; at most 64)`);
  const ca = await loadCa(dir);
  const index = readIndex(dir);
  const existing = index.find((e) => e.name === name && !e.revokedAt && Date.parse(e.notAfter) > Date.now());
  if (existing && !opts.force) throw new PkiExistsError(`a valid certificate "${name}" exists (serial ${existing.serial}); revoke it or use --force`);
  const org = opts.org ?? ca.cert.subjectName.getField("O")[0] ?? "sipthor";
  const ou = opts.ou ?? "node";
  const roles = opts.roles ?? ["*"];
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
  const sn = serial();
  const now = Date.now();
  const notAfter = new Date(now + (opts.days ?? DEFAULT_CERT_DAYS) * DAY);
  const subject = `CN=${escapeDn(name)}, O=${escapeDn(org)}, OU=${escapeDn(ou)}`;
  const altNames: x509.JsonGeneralName[] = [
    ...(opts.ip ?? []).map((v) => ({ type: "ip" as const, value: v })),
    ...(opts.dns ?? []).map((v) => ({ type: "dns" as const, value: v })),
    ...roles.map((r) => ({ type: "url" as const, value: `${ROLE_URI_PREFIX}${r}` })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: sn,
    subject,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(altNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(altNames)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  mkdirSync(join(dir, "certs"), { recursive: true });
  const certPath = join(dir, "certs", `${name}.crt`);
  const keyPath = join(dir, "certs", `${name}.key`);
  write(keyPath, await exportKey(keys.privateKey), 0o600);
  write(certPath, cert.toString("pem") + "\n");
  index.push({ name, serial: sn, subject: subject.replace(/, /g, ","), ip: opts.ip ?? [], roles, notAfter: notAfter.toISOString() });
  writeIndex(dir, index);
  return { certPath, keyPath, serial: sn };
}

/** Revoke every unrevoked certificate issued under `name` and rewrite the CRL. */
export async function revokeCertificate(dir: string, name: string): Promise<string[]> {
  const index = readIndex(dir);
  const hits = index.filter((e) => e.name === name && !e.revokedAt);
  if (hits.length === 0) throw new PkiNotFoundError(`no unrevoked certificate named "${name}" in ${dir}`);
  const at = new Date().toISOString();
  for (const e of hits) e.revokedAt = at;
  writeIndex(dir, index);
  await writeCrl(dir);
  return hits.map((e) => e.serial);
}

/** (Re)write `crl.pem` listing every revoked serial. */
export async function writeCrl(dir: string, days = DEFAULT_CRL_DAYS): Promise<string> {
  const ca = await loadCa(dir);
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(now - 60_000),
    nextUpdate: new Date(now + days * DAY),
    signingAlgorithm: ALG,
    signingKey: ca.key,
    entries: readIndex(dir)
      .filter((e) => e.revokedAt)
      .map((e) => ({ serialNumber: e.serial, revocationDate: new Date(e.revokedAt!), reason: x509.X509CrlReason.keyCompromise })),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.cert)],
  });
  const path = join(dir, "crl.pem");
  write(path, x509.PemConverter.encode(crl.rawData, "X509 CRL") + "\n");
  return path;
}

export function listCertificates(dir: string): CertificateStatus[] {
  const now = Date.now();
  return readIndex(dir).map((e) => ({ ...e, status: e.revokedAt ? "revoked" : Date.parse(e.notAfter) <= now ? "expired" : "valid" }));
}
