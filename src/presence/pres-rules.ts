/**
 * Presence authorization rules (RFC 5025 over the common policy of RFC
 * 4745), compiled once per document and evaluated per watcher.
 *
 * - A rule matches when all of its conditions match (RFC 4745 10.1):
 *   `identity` (any `one` equals the watcher, or a `many` whose domain is
 *   the watcher's and no `except` excludes it), `validity` (now inside one
 *   from/until interval), `sphere` (never: the presentity's sphere is not
 *   known here, so such rules do not apply) and RFC 5025 `external-list`
 *   (the watcher is an entry of a referenced resource list). A rule without
 *   conditions matches everyone.
 * - The sub-handling of all matching rules combines to the most permissive
 *   (RFC 4745 10.2): block < confirm < polite-block < allow. No matching
 *   rule means block (RFC 5025 3.2.1).
 */
import { childElements, children, parseXml, textOf, type Element } from "../base/index.js";
import type { Handling } from "./subscription.js";

export const CP_NS = "urn:ietf:params:xml:ns:common-policy";
export const PR_NS = "urn:ietf:params:xml:ns:pres-rules";

const RANK: Record<Handling, number> = { block: 0, confirm: 10, "polite-block": 20, allow: 30 };

type Condition = (w: WatcherContext) => boolean;

export interface WatcherContext {
  /** The watcher's authenticated identity, `sip:user@domain`. */
  watcher: string;
  now: number;
  /** Members (URIs) of a resource list named by an external-list anchor, when the caller could read it. */
  list?: (anchor: string) => readonly string[] | undefined;
}

interface CompiledRule {
  id: string;
  conditions: Condition[];
  handling: Handling | undefined;
}

/** `user@domain` of a SIP or pres URI, domain lower-cased, or undefined. */
export function identityOf(uri: string): string | undefined {
  const bare = uri.trim().replace(/^(sips?|pres):/i, "").replace(/[;?>].*$/, "");
  const at = bare.lastIndexOf("@");
  if (at <= 0) return undefined;
  return `${bare.slice(0, at)}@${bare.slice(at + 1).toLowerCase()}`;
}

const domainOf = (id: string) => id.slice(id.lastIndexOf("@") + 1);

function identityCondition(el: Element): Condition {
  const ones = children(el, CP_NS, "one").map((o) => identityOf(o.getAttribute("id") ?? ""));
  const manys = children(el, CP_NS, "many").map((m) => ({
    domain: m.getAttribute("domain")?.toLowerCase(),
    exceptDomains: children(m, CP_NS, "except").map((e) => e.getAttribute("domain")?.toLowerCase()).filter((d): d is string => !!d),
    exceptIds: children(m, CP_NS, "except").map((e) => identityOf(e.getAttribute("id") ?? "")).filter((d): d is string => !!d),
  }));
  return (w) => {
    const id = identityOf(w.watcher);
    if (!id) return false;
    if (ones.includes(id)) return true;
    return manys.some((m) => (m.domain === undefined || m.domain === domainOf(id)) && !m.exceptDomains.includes(domainOf(id)) && !m.exceptIds.includes(id));
  };
}

function validityCondition(el: Element): Condition {
  const froms = children(el, CP_NS, "from").map((e) => Date.parse(textOf(e)));
  const untils = children(el, CP_NS, "until").map((e) => Date.parse(textOf(e)));
  return (w) => froms.some((f, i) => Number.isFinite(f) && Number.isFinite(untils[i]) && f <= w.now && w.now < untils[i]!);
}

function externalListCondition(el: Element): Condition {
  const anchors = children(el, PR_NS, "entry").map((e) => e.getAttribute("anc") ?? "").filter((a) => a.length > 0);
  return (w) => {
    const id = identityOf(w.watcher);
    if (!id || !w.list) return false;
    return anchors.some((a) => (w.list!(a) ?? []).some((uri) => identityOf(uri) === id));
  };
}

/** External-list anchors one rules document may name (more are ignored: such conditions match nobody). @default 16 */
export const MAX_EXTERNAL_LISTS = 16;

export class PresRules {
  private constructor(
    private readonly rules: CompiledRule[],
    /** The anchors of every external-list condition, for the caller to read the lists they name. */
    readonly anchors: readonly string[],
  ) {}

  /** Compile a pres-rules document; a reason when it is not one. */
  static parse(text: string): PresRules | { error: string } {
    const p = parseXml(text);
    if (!p.ok) return { error: p.reason };
    const root = p.doc.documentElement!;
    if (root.localName !== "ruleset" || root.namespaceURI !== CP_NS) return { error: `the root element is <ruleset xmlns="${CP_NS}">` };
    const rules: CompiledRule[] = [];
    const anchors = new Set<string>();
    for (const rule of children(root, CP_NS, "rule")) {
      const conditions: Condition[] = [];
      for (const conds of children(rule, CP_NS, "conditions"))
        for (const c of childElements(conds)) {
          if (c.namespaceURI === CP_NS && c.localName === "identity") conditions.push(identityCondition(c));
          else if (c.namespaceURI === CP_NS && c.localName === "validity") conditions.push(validityCondition(c));
          else if (c.namespaceURI === PR_NS && c.localName === "external-list") {
            conditions.push(externalListCondition(c));
            for (const e of children(c, PR_NS, "entry")) if (anchors.size < MAX_EXTERNAL_LISTS && e.getAttribute("anc")) anchors.add(e.getAttribute("anc")!);
          }
          // RFC 4745 10.1: a condition the server does not understand (sphere, extensions) does not match.
          else conditions.push(() => false);
        }
      let handling: Handling | undefined;
      for (const actions of children(rule, CP_NS, "actions"))
        for (const sh of children(actions, PR_NS, "sub-handling")) {
          const v = textOf(sh);
          if (v in RANK) handling = v as Handling;
        }
      rules.push({ id: rule.getAttribute("id") ?? "", conditions, handling });
    }
    return new PresRules(rules, [...anchors]);
  }

  /** The sub-handling for a watcher and the ids of the rules that matched. */
  evaluate(w: WatcherContext): { handling: Handling; matched: string[] } {
    let best: Handling = "block";
    const matched: string[] = [];
    for (const r of this.rules) {
      if (!r.conditions.every((c) => c(w))) continue;
      matched.push(r.id);
      if (r.handling && RANK[r.handling] > RANK[best]) best = r.handling;
    }
    return { handling: best, matched };
  }
}
