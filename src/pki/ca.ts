/**
 * The operator CA, as files an operator can inspect with openssl:
 *
 *   <dir>/ca.crt, ca.key (0600)    the CA (EC P-256, self-signed)
 *   <dir>/crl.pem                  the CRL (all revoked serials)
 *   <dir>/index.json               what was issued: name, serial, subject, IPs, roles, expiry, revocation
 *   <dir>/certs/<name>.crt, .key   member certificates (serverAuth + clientAuth), key 0600
 *   <dir>/secrets/<kid>.key        cluster secrets (HMAC keys, 0600), see secrets.ts
 *
 * Member certificates name their holder in the subject (`CN=<name>,
 * O=<org>, OU=<kind>`), their addresses in the SubjectAltName, and the roles
 * they may announce as `urn:thor:role:<role>` URIs (`*` = any).
 *
 * Files are replaced atomically (write to `.tmp`, rename), so a member
 * polling `crl.pem` never reads half a CRL. Concurrent `thor ca` runs on the
 * same directory are not serialized: run one at a time.
 */
import "reflect-metadata";
import { webcrypto, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { z } from "zod";
import { PkiExistsError, PkiInvalidError, PkiNotFoundError } from "./errors.js";
import { createSecret, listSecrets } from "./secrets.js";
import {
  CERT_NAME,
  CERT_ROLE,
  DEFAULT_CA_COMMON_NAME,
  DEFAULT_CA_DAYS,
  DEFAULT_CERT_DAYS,
  DEFAULT_CRL_DAYS,
  DEFAULT_ORG,
  DEFAULT_OU,
  DEFAULT_ROLES,
  ROLE_URI_PREFIX,
} from "./options.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
/** DNS names for the SubjectAltName: labels, optionally a leading `*.`. */
const DNS_NAME = /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const indexEntrySchema = z.object({
  name: z.string(),
  serial: z.string().regex(/^[0-9a-fA-F]+$/),
  subject: z.string(),
  ip: z.array(z.string()),
  roles: z.array(z.string()).default([...DEFAULT_ROLES]),
  notAfter: z.string(),
  revokedAt: z.string().optional(),
});

/** One row of `index.json`. */
export type IndexEntry = z.infer<typeof indexEntrySchema>;

export type CertificateStatus = IndexEntry & { status: "valid" | "revoked" | "expired" };

export interface InitCaOptions {
  /** @default "sipthor CA" */
  commonName?: string;
  /** @default "sipthor" */
  org?: string;
  /** @default 3650 */
  days?: number;
  /** Replace an existing CA (every certificate it issued becomes useless). */
  force?: boolean;
}

export interface IssueOptions {
  /** IP addresses for the SubjectAltName. */
  ip?: string[];
  /** DNS names for the SubjectAltName. */
  dns?: string[];
  /** @default the CA's O */
  org?: string;
  /** Kind of member. @default "node" */
  ou?: string;
  /** Roles the holder may announce. @default ["*"] */
  roles?: string[];
  /** Validity in days (fractions allowed). @default 825 */
  days?: number;
  /** Issue again even if an unrevoked, unexpired certificate of this name exists (the old one stays valid until revoked or expired). */
  force?: boolean;
}

export interface IssuedCertificate {
  certPath: string;
  keyPath: string;
  /** Lowercase hex, as in index.json. */
  serial: string;
}

function write(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function escapeDn(v: string): string {
  return v.replace(/([,+"\\<>;=#])/g, "\\$1");
}

/** 16 random bytes, first byte in 0x10..0x7f: positive, no leading zero, always 32 hex digits. */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10;
  return b.toString("hex");
}

function validDays(days: number | undefined, fallback: number): number {
  const d = days ?? fallback;
  if (!Number.isFinite(d) || d <= 0) throw new PkiInvalidError(`invalid validity "${String(days)}" (a positive number of days)`);
  return d;
}

function validText(what: string, v: string): string {
  if (v.trim() === "" || v.length > 64) throw new PkiInvalidError(`invalid ${what} "${v}" (1 to 64 characters)`);
  return v;
}

async function exportKey(key: Key): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKey(pem: string, path: string): Promise<Key> {
  try {
    const der = x509.PemConverter.decode(pem)[0];
    if (!der) throw new Error("no PEM block");
    return await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  } catch (err) {
    throw new PkiInvalidError(`${path} is not a PKCS#8 EC P-256 private key`, { cause: err });
  }
}

interface LoadedCa {
  cert: x509.X509Certificate;
  key: Key;
}

async function loadCa(dir: string): Promise<LoadedCa> {
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  if (!existsSync(certPath)) throw new PkiNotFoundError(`no CA in ${dir} (run: thor ca init --dir ${dir})`);
  if (!existsSync(keyPath)) throw new PkiNotFoundError(`no CA key ${keyPath}: this directory can verify but not sign`);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(readFileSync(certPath, "utf8"));
  } catch (err) {
    throw new PkiInvalidError(`${certPath} is not a PEM certificate`, { cause: err });
  }
  return { cert, key: await importKey(readFileSync(keyPath, "utf8"), keyPath) };
}

/** The rows of `<dir>/index.json` (empty when there is none). Throws PkiInvalidError when it is corrupt. */
export function readIndex(dir: string): IndexEntry[] {
  const p = join(dir, "index.json");
  if (!existsSync(p)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(p, "utf8"));
  } catch (err) {
    throw new PkiInvalidError(`${p} is not valid JSON`, { cause: err });
  }
  const parsed = z.array(indexEntrySchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PkiInvalidError(`${p} is corrupt: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`);
  }
  return parsed.data;
}

function writeIndex(dir: string, entries: readonly IndexEntry[]): void {
  write(join(dir, "index.json"), JSON.stringify(entries, null, 2) + "\n");
}

/** Create `dir` with a self-signed CA, an empty index and an empty CRL. */
export async function initCa(dir: string, opts: InitCaOptions = {}): Promise<{ certPath: string; keyPath: string; crlPath: string; secretPath: string }> {
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  if (existsSync(certPath) && !opts.force) throw new PkiExistsError(`a CA already exists in ${dir} (use --force to replace it)`);
  const cn = validText("CA common name", opts.commonName ?? DEFAULT_CA_COMMON_NAME);
  const org = validText("organization", opts.org ?? DEFAULT_ORG);
  const days = validDays(opts.days, DEFAULT_CA_DAYS);
  mkdirSync(join(dir, "certs"), { recursive: true });
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: `CN=${escapeDn(cn)}, O=${escapeDn(org)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  write(keyPath, await exportKey(keys.privateKey), 0o600);
  write(certPath, cert.toString("pem") + "\n");
  writeIndex(dir, []);
  const crlPath = await writeCrl(dir);
  // The cluster secret (signed Record-Route entries, flow tokens, nonces) travels with the CA files.
  const secret = listSecrets(dir)[0] ?? createSecret(dir);
  return { certPath, keyPath, crlPath, secretPath: secret.path };
}

/** Issue a member certificate signed by the CA in `dir`; writes `certs/<name>.crt/.key` and appends to the index. */
export async function issueCertificate(dir: string, name: string, opts: IssueOptions = {}): Promise<IssuedCertificate> {
  if (!CERT_NAME.test(name)) throw new PkiInvalidError(`invalid certificate name "${name}" (letters, digits, . _ -; at most 64)`);
  const ips = opts.ip ?? [];
  for (const ip of ips) if (isIP(ip) === 0) throw new PkiInvalidError(`invalid IP address "${ip}"`);
  const dns = opts.dns ?? [];
  for (const d of dns) if (!DNS_NAME.test(d) || d.length > 253) throw new PkiInvalidError(`invalid DNS name "${d}"`);
  const roles = opts.roles ?? [...DEFAULT_ROLES];
  if (roles.length === 0) throw new PkiInvalidError(`no roles for "${name}" (give at least one, * = any)`);
  for (const r of roles) if (!CERT_ROLE.test(r)) throw new PkiInvalidError(`invalid role "${r}" (* or lowercase letters, digits, _)`);
  const days = validDays(opts.days, DEFAULT_CERT_DAYS);
  const ca = await loadCa(dir);
  const index = readIndex(dir);
  const existing = index.find((e) => e.name === name && !e.revokedAt && Date.parse(e.notAfter) > Date.now());
  if (existing && !opts.force) throw new PkiExistsError(`a valid certificate "${name}" exists (serial ${existing.serial}); revoke it or use --force`);
  const org = validText("organization", opts.org ?? ca.cert.subjectName.getField("O")[0] ?? DEFAULT_ORG);
  const ou = validText("organizational unit", opts.ou ?? DEFAULT_OU);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
  const serial = newSerial();
  const now = Date.now();
  const notAfter = new Date(now + days * DAY);
  const rdns = [`CN=${escapeDn(name)}`, `O=${escapeDn(org)}`, `OU=${escapeDn(ou)}`];
  const subject = rdns.join(", ");
  const altNames: x509.JsonGeneralName[] = [
    ...ips.map((v) => ({ type: "ip" as const, value: v })),
    ...dns.map((v) => ({ type: "dns" as const, value: v })),
    ...roles.map((r) => ({ type: "url" as const, value: `${ROLE_URI_PREFIX}${r}` })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
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
      new x509.SubjectAlternativeNameExtension(altNames),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  mkdirSync(join(dir, "certs"), { recursive: true });
  const certPath = join(dir, "certs", `${name}.crt`);
  const keyPath = join(dir, "certs", `${name}.key`);
  write(keyPath, await exportKey(keys.privateKey), 0o600);
  write(certPath, cert.toString("pem") + "\n");
  index.push({ name, serial, subject: rdns.join(","), ip: ips, roles, notAfter: notAfter.toISOString() });
  writeIndex(dir, index);
  return { certPath, keyPath, serial };
}

/** Revoke every unrevoked certificate issued under `name` and rewrite the CRL; returns the revoked serials. */
export async function revokeCertificate(dir: string, name: string): Promise<string[]> {
  await loadCa(dir); // fail before touching the index when the CRL could not be signed
  const index = readIndex(dir);
  const hits = index.filter((e) => e.name === name && !e.revokedAt);
  if (hits.length === 0) throw new PkiNotFoundError(`no unrevoked certificate named "${name}" in ${dir}`);
  const at = new Date().toISOString();
  for (const e of hits) e.revokedAt = at;
  writeIndex(dir, index);
  await writeCrl(dir);
  return hits.map((e) => e.serial);
}

/** (Re)write `crl.pem`, signed by the CA, listing every revoked serial; returns its path. */
export async function writeCrl(dir: string, days = DEFAULT_CRL_DAYS): Promise<string> {
  const ca = await loadCa(dir);
  const validity = validDays(days, DEFAULT_CRL_DAYS);
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(now - 60_000),
    nextUpdate: new Date(now + validity * DAY),
    signingAlgorithm: ALG,
    signingKey: ca.key,
    entries: readIndex(dir).flatMap((e) =>
      e.revokedAt ? [{ serialNumber: e.serial, revocationDate: new Date(e.revokedAt), reason: x509.X509CrlReason.keyCompromise }] : [],
    ),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.cert)],
  });
  const path = join(dir, "crl.pem");
  write(path, x509.PemConverter.encode(crl.rawData, "X509 CRL") + "\n");
  return path;
}

/** The index with each certificate's status (revoked wins over expired). Throws PkiNotFoundError when `dir` holds no CA. */
export function listCertificates(dir: string): CertificateStatus[] {
  if (!existsSync(join(dir, "ca.crt"))) throw new PkiNotFoundError(`no CA in ${dir} (run: thor ca init --dir ${dir})`);
  const now = Date.now();
  return readIndex(dir).map((e) => ({ ...e, status: e.revokedAt ? "revoked" : Date.parse(e.notAfter) <= now ? "expired" : "valid" }));
}

export interface CrlInfo {
  thisUpdate: Date;
  /** Past this date TLS refuses every peer (CRL_HAS_EXPIRED): re-sign before. */
  nextUpdate: Date | undefined;
  /** Revoked serials, lowercase hex. */
  serials: string[];
}

/** What `<dir>/crl.pem` says (not verified: for display). */
export function readCrlInfo(dir: string): CrlInfo {
  const path = join(dir, "crl.pem");
  if (!existsSync(path)) throw new PkiNotFoundError(`no CRL ${path} (run: thor ca crl --dir ${dir})`);
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(readFileSync(path, "utf8"));
  } catch (err) {
    throw new PkiInvalidError(`${path} is not a PEM CRL`, { cause: err });
  }
  return { thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, serials: crl.entries.map((e) => e.serialNumber.toLowerCase()) };
}
