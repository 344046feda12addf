import type { Binding, LocationService } from "./location.js";
import type { Registrar, RegisterData, RegisterOutcome } from "./registrar.js";

/** The location service of a single node: its own registrar's store. */
export class LocalLocation implements LocationService {
  constructor(
    private readonly registrar: Registrar,
    /** Wall-clock ms. */
    private readonly now: () => number,
  ) {}

  register(aor: string, data: RegisterData): RegisterOutcome {
    return this.registrar.apply(aor, data, this.now());
  }

  lookup(aor: string): Binding[] {
    return this.registrar.store.lookup(aor, this.now());
  }
}
