import type { LabMember } from "../../src/cli/lab.js";
import { ProvisioningClient } from "../../src/provisioning/index.js";
import { Lab } from "./lab.js";
import { stopAllProcesses } from "./processes.js";
import { sipp, type SippRun } from "./sipp.js";
import { waitFor } from "./wait-for.js";

/**
 * Three sip_proxy nodes on `<subnet>.101`-`.103` serving the accounts of the
 * announced database (node1 also runs the provisioning API), the API's
 * client with the domain created, and REGISTER through SIPp from
 * `<subnet>.200`.
 */
export class ProvisionedLab {
  private port = 6100;

  private constructor(
    readonly lab: Lab,
    readonly api: ProvisioningClient,
    readonly subnet: string,
    readonly domain: string,
  ) {}

  /** `extraArgs`: more arguments for some members (e.g. a manager's timers). */
  static async start(subnet: string, domain: string, extraArgs: (m: LabMember) => string[] = () => []): Promise<ProvisionedLab> {
    const lab = await Lab.create({ subnet, nodes: [["sip_proxy", "provisioning_server"], ["sip_proxy"], ["sip_proxy"]], subscribers: "database", sipDomain: domain });
    const prov = lab.plan.provisioning!;
    const api = new ProvisioningClient({ url: prov.url, token: prov.token });
    const p = new ProvisionedLab(lab, api, subnet, domain);
    try {
      await lab.startAll(90_000, extraArgs);
      await waitFor(() => api.health().then((h) => h.ok), { timeoutMs: 15_000, message: "provisioning API up" });
      await waitFor(() => api.createDomain({ name: domain }).then(() => true), { timeoutMs: 15_000, message: "database announced and writable" });
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  /** REGISTER `user` through `node` (an address) with SIPp's `scenario`; resolves with SIPp's run. */
  register(user: string, pass: string, node: string, scenario = "register.xml", timeoutS = 5): Promise<SippRun> {
    const p = this.port++;
    return sipp({ scenario, localIp: `${this.subnet}.200`, localPort: p, remote: `${node}:5060`, keys: { user, pass, domain: this.domain, contact: `sip:${user}@${this.subnet}.200:${p}`, expires: "300" }, timeoutS }).done;
  }

  /** A SIPp port of its own for a scenario run by the test itself. */
  nextPort(): number {
    return this.port++;
  }

  async stop(): Promise<void> {
    this.api.close();
    await this.lab.stop();
    await stopAllProcesses();
  }
}
