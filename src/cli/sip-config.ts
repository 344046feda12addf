/**
 * SIP settings shared by `thor sip` and `thor node --roles sip_proxy`: the
 * users file and listener specs.
 */
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { canonicalHost, MemoryCredentialStore, parseListenSpec, type ListenSpec } from "../sip/index.js";
import { ConfigError } from "./config.js";

const usersSchema = z.object({
  users: z.array(
    z
      .object({
        username: z.string().min(1).max(64).regex(/^[A-Za-z0-9\-_.!~*'()&=+$,;?/]+$/),
        password: z.string().min(1).max(256),
        /** The account's domain (its digest realm). @default the first domain served */
        domain: z.string().min(1).max(253).optional(),
      })
      .strict(),
  ),
});

/** Load `[[users]] username = "..." password = "..." [domain = "..."]` from a TOML file; `realm`: the domain of users without one. */
export function loadUsers(path: string, realm: string): MemoryCredentialStore {
  let doc: unknown;
  try {
    doc = parseToml(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(`cannot read users file ${path}: ${(err as Error).message}`);
  }
  const parsed = usersSchema.safeParse(doc);
  if (!parsed.success) throw new ConfigError(`invalid users file ${path}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const store = new MemoryCredentialStore(realm);
  for (const u of parsed.data.users) store.set(u.username, { password: u.password }, canonicalHost(u.domain ?? realm));
  return store;
}


/** Parse listener specs (`udp:IP:PORT`, ...), or say which one is wrong. */
export function parseListeners(texts: readonly string[]): ListenSpec[] {
  return texts.map((text) => {
    const spec = parseListenSpec(text);
    if (!spec) throw new ConfigError(`invalid listener "${text}" (expected udp|tcp|tls|ws|wss:HOST:PORT)`);
    return spec;
  });
}
