/**
 * Domain name helpers. Names are compared in canonical form: ASCII letters
 * lowercased (RFC 4343: DNS names are case-insensitive, only for A-Z), no
 * trailing dot; the root is the empty string.
 */

export function canonicalName(name: string): string {
  let n = name.endsWith(".") ? name.slice(0, -1) : name;
  if (/[A-Z]/.test(n)) n = n.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  return n;
}

/** True when `name` is `origin` or below it (both canonical). */
export function inZone(name: string, origin: string): boolean {
  if (origin === "") return true;
  return name === origin || (name.length > origin.length && name.endsWith(origin) && name[name.length - origin.length - 1] === ".");
}

/** `a.b.c` → `b.c`, `c` → `` (root). */
export function parentName(name: string): string {
  const i = name.indexOf(".");
  return i < 0 ? "" : name.slice(i + 1);
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** A zone or host name we can serve: letter-digit-hyphen labels (and `_` for service labels). */
export function isValidName(name: string): boolean {
  return HOSTNAME.test(canonicalName(name));
}

/**
 * A DNS label for a member id: lowercase letters, digits and hyphens, at
 * most 63 characters (RFC 1035 2.3.1); other characters become `-`.
 */
export function hostLabel(id: string): string {
  const label = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label === "" ? "member" : label;
}
