/**
 * `/health` and `/ready` of a member. Alive means the process answers;
 * ready means every readiness check passes (a membership snapshot, roles
 * started, a reachable database where the member needs one). The answer is
 * JSON with names, states and short details only: never a secret, a
 * database URI with a password, or a key path.
 */
export interface CheckResult {
  ok: boolean;
  /** Short, secret-free explanation. */
  detail?: string;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

export interface HealthReport {
  status: "ok";
  component: string;
  member: string;
  version: string;
  uptimeSeconds: number;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

export class Health {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly startedAt = performance.now();

  constructor(private readonly who: { component: string; member: string; version: string }) {}

  /** Add (or replace) a named readiness check. */
  check(name: string, fn: ReadinessCheck): void {
    this.checks.set(name, fn);
  }

  alive(): HealthReport {
    return { status: "ok", ...this.who, uptimeSeconds: Math.round((performance.now() - this.startedAt) / 1000) };
  }

  async ready(): Promise<ReadinessReport> {
    const checks: Record<string, CheckResult> = {};
    for (const [name, fn] of this.checks) {
      try {
        const r = await fn();
        checks[name] = { ok: r.ok === true, ...(r.detail ? { detail: r.detail.slice(0, 200) } : {}) };
      } catch (err) {
        checks[name] = { ok: false, detail: `check failed: ${err instanceof Error ? err.message.slice(0, 160) : "error"}` };
      }
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
