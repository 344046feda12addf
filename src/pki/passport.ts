/**
 * Passports: who may connect or publish, as patterns over certificate
 * subject attributes, e.g. `O=example,OU=manager,CN=*`. A pattern is an
 * exact value, `*` (anything), `prefix*` or `*suffix`. A subject matches a
 * passport when every attribute the passport names is present and matches.
 */
import { PassportError } from "./errors.js";

export type Passport = Readonly<Record<string, string>>;

const ATTR = /^[A-Za-z][A-Za-z0-9.]{0,31}$/;

export function parsePassport(text: string): Passport {
  const out: Record<string, string> = {};
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === "")) throw new PassportError(`empty passport "${text}"`);
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq < 1) throw new PassportError(`passport "${text}": "${part}" is not ATTR=pattern`);
    const attr = part.slice(0, eq).trim();
    const pattern = part.slice(eq + 1).trim();
    if (!ATTR.test(attr)) throw new PassportError(`passport "${text}": invalid attribute "${attr}"`);
    if (pattern.length === 0) throw new PassportError(`passport "${text}": empty pattern for ${attr}`);
    const stars = pattern.split("*").length - 1;
    if (stars > 1 || (stars === 1 && pattern !== "*" && !pattern.startsWith("*") && !pattern.endsWith("*"))) {
      throw new PassportError(`passport "${text}": "${pattern}" may only use * alone, as a prefix (*abc) or as a suffix (abc*)`);
    }
    if (attr in out) throw new PassportError(`passport "${text}": ${attr} given twice`);
    out[attr] = pattern;
  }
  return out;
}

export function matchPattern(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

export function matchPassport(passport: Passport, subject: Readonly<Record<string, string>>): boolean {
  for (const [attr, pattern] of Object.entries(passport)) {
    const value = subject[attr];
    if (value === undefined || !matchPattern(pattern, value)) return false;
  }
  return true;
}

export function matchAnyPassport(passports: readonly Passport[], subject: Readonly<Record<string, string>>): boolean {
  return passports.some((p) => matchPassport(p, subject));
}

/** `CN=..,O=..,OU=..` for log lines. */
export function formatSubject(subject: Readonly<Record<string, string>>): string {
  return Object.entries(subject).map(([k, v]) => `${k}=${v}`).join(",");
}
