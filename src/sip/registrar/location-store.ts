/**
 * The in-memory binding store of one node: AOR → contact URI → binding,
 * with a contact-URI index for requests sent straight to a registered
 * contact. Expired bindings are dropped as they are met and by `sweep`.
 */
import { ownCopy } from "../message/index.js";
import type { Binding, LocationStoreView } from "./location.js";

export class LocationStore implements LocationStoreView {
  /**
   * AOR → its bindings. An array, not a Map: an AOR has one to a few
   * bindings (at most maxContacts), and at 100k AORs a Map each cost about
   * 300 bytes more than the binding itself.
   */
  private readonly aors = new Map<string, Binding[]>();
  /** Contact URI → AOR, to route in-dialog requests to the flow of a registered contact. */
  private readonly byUri = new Map<string, string>();
  private count = 0;

  /** The live binding whose contact URI is `uri`, whatever its AOR. */
  byContact(uri: string, now: number): Binding | undefined {
    const aor = this.byUri.get(uri);
    if (aor === undefined) return undefined;
    const b = this.get(aor, uri);
    return b && b.expires > now ? b : undefined;
  }

  /** Live bindings of an AOR, best q first. */
  lookup(aor: string, now: number): Binding[] {
    const list = this.aors.get(aor);
    if (!list) return [];
    if (list.some((b) => b.expires <= now)) this.dropExpired(aor, list, now);
    return list.length > 1 ? [...list].sort((a, b) => b.q - a.q) : [...list];
  }

  get(aor: string, uri: string): Binding | undefined {
    const list = this.aors.get(aor);
    if (!list) return undefined;
    for (const b of list) if (b.uri === uri) return b;
    return undefined;
  }

  /** Store `b` (replacing the AOR's binding of the same contact URI). Its keys are kept as own flat strings. */
  put(aor: string, b: Binding): void {
    let list = this.aors.get(aor);
    // The AOR string is kept once, as the map's key and the index's value.
    if (!list) this.aors.set((aor = ownCopy(aor)), (list = []));
    else aor = (list[0] && this.byUri.get(list[0].uri)) ?? aor;
    const stored: Binding = { ...b, uri: ownCopy(b.uri), flowId: ownCopy(b.flowId) };
    const i = list.findIndex((x) => x.uri === b.uri);
    if (i >= 0) list[i] = stored;
    else {
      list.push(stored);
      this.count++;
    }
    this.byUri.set(stored.uri, aor);
  }

  remove(aor: string, uri: string): boolean {
    const list = this.aors.get(aor);
    const i = list ? list.findIndex((x) => x.uri === uri) : -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    this.forget(aor, uri);
    this.count--;
    if (list.length === 0) this.aors.delete(aor);
    return true;
  }

  removeAll(aor: string): number {
    const list = this.aors.get(aor);
    if (!list) return 0;
    this.aors.delete(aor);
    for (const b of list) this.forget(aor, b.uri);
    this.count -= list.length;
    return list.length;
  }

  /** Drop expired bindings everywhere; returns how many. */
  sweep(now: number): number {
    const before = this.count;
    for (const [aor, list] of this.aors) if (list.some((b) => b.expires <= now)) this.dropExpired(aor, list, now);
    return before - this.count;
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

  private dropExpired(aor: string, list: Binding[], now: number): void {
    let kept = 0;
    for (const b of list) {
      if (b.expires > now) list[kept++] = b;
      else this.forget(aor, b.uri);
    }
    this.count -= list.length - kept;
    list.length = kept;
    if (kept === 0) this.aors.delete(aor);
  }

  private forget(aor: string, uri: string): void {
    if (this.byUri.get(uri) === aor) this.byUri.delete(uri);
  }
}
