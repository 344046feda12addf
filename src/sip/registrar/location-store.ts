/**
 * The in-memory binding store of one node: AOR → contact URI → binding,
 * with a contact-URI index for requests sent straight to a registered
 * contact. Expired bindings are dropped as they are met and by `sweep`.
 */
import type { Binding, LocationStoreView } from "./location.js";

export class LocationStore implements LocationStoreView {
  private readonly aors = new Map<string, Map<string, Binding>>();
  /** Contact URI → AOR, to route in-dialog requests to the flow of a registered contact. */
  private readonly byUri = new Map<string, string>();
  private count = 0;

  /** The live binding whose contact URI is `uri`, whatever its AOR. */
  byContact(uri: string, now: number): Binding | undefined {
    const aor = this.byUri.get(uri);
    if (aor === undefined) return undefined;
    const b = this.aors.get(aor)?.get(uri);
    return b && b.expires > now ? b : undefined;
  }

  /** Live bindings of an AOR, best q first. */
  lookup(aor: string, now: number): Binding[] {
    const m = this.aors.get(aor);
    if (!m) return [];
    const out: Binding[] = [];
    for (const [k, b] of m) {
      if (b.expires <= now) {
        m.delete(k);
        if (this.byUri.get(k) === aor) this.byUri.delete(k);
        this.count--;
      } else out.push(b);
    }
    if (m.size === 0) this.aors.delete(aor);
    return out.sort((a, b) => b.q - a.q);
  }

  get(aor: string, uri: string): Binding | undefined {
    return this.aors.get(aor)?.get(uri);
  }

  put(aor: string, b: Binding): void {
    let m = this.aors.get(aor);
    if (!m) this.aors.set(aor, (m = new Map()));
    if (!m.has(b.uri)) this.count++;
    m.set(b.uri, b);
    this.byUri.set(b.uri, aor);
  }

  remove(aor: string, uri: string): boolean {
    const m = this.aors.get(aor);
    if (!m || !m.delete(uri)) return false;
    if (this.byUri.get(uri) === aor) this.byUri.delete(uri);
    this.count--;
    if (m.size === 0) this.aors.delete(aor);
    return true;
  }

  removeAll(aor: string): number {
    const m = this.aors.get(aor);
    if (!m) return 0;
    this.aors.delete(aor);
    for (const uri of m.keys()) if (this.byUri.get(uri) === aor) this.byUri.delete(uri);
    this.count -= m.size;
    return m.size;
  }

  /** Drop expired bindings everywhere; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [aor, m] of this.aors) {
      for (const [k, b] of m) {
        if (b.expires <= now) {
          m.delete(k);
          if (this.byUri.get(k) === aor) this.byUri.delete(k);
          n++;
        }
      }
      if (m.size === 0) this.aors.delete(aor);
    }
    this.count -= n;
    return n;
  }

  /** Every AOR held, with its live bindings (for hand-over and replication). */
  *entries(now: number): IterableIterator<[string, Binding[]]> {
    for (const aor of [...this.aors.keys()]) {
      const live = this.lookup(aor, now);
      if (live.length > 0) yield [aor, live];
    }
  }

  /** Replace all bindings of an AOR (replication: the sender's full set wins). */
  replace(aor: string, bindings: readonly Binding[]): void {
    this.removeAll(aor);
    for (const b of bindings) this.put(aor, b);
  }

  get size(): number {
    return this.count;
  }

  get aorCount(): number {
    return this.aors.size;
  }
}
