import type { Binding, FailedFlow, LocationService, RegisterData, RegisterOutcome } from "./location.js";
import type { LocationStore } from "./location-store.js";
import type { Registrar } from "./registrar.js";

/** The location service of a single node: its own registrar's store. */
export class LocalLocation implements LocationService {
  constructor(
    private readonly registrar: Registrar,
    /** Wall-clock ms. */
    private readonly now: () => number,
  ) {}

  get store(): LocationStore {
    return this.registrar.store;
  }

  register(aor: string, data: RegisterData): RegisterOutcome {
    return this.registrar.apply(aor, data, this.now());
  }

  lookup(aor: string): Binding[] {
    return this.registrar.store.lookup(aor, this.now());
  }

  byContact(uri: string): Binding | undefined {
    return this.registrar.store.byContact(uri, this.now());
  }

  flowFailed(aor: string, flow: FailedFlow): number {
    return this.registrar.dropFlow(aor, flow, this.now());
  }

  /** Drop expired bindings. */
  sweep(): void {
    this.registrar.store.sweep(this.now());
  }
}
