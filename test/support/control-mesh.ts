/**
 * Members with real control links (mutual TLS, src/node/control) in this
 * process, for unit tests of roles that talk over the control link: no
 * `thor` processes, failures are fast and precise. Member `i` (0-based) of
 * `ids` listens on `testIp(net, 1 + i)` with a certificate of a throwaway CA
 * (OU=node, CN=its id) naming that address.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/base/index.js";
import { ControlLink } from "../../src/node/index.js";
import type { Entity } from "../../src/overlay/index.js";
import { initCa, issueCertificate, TlsIdentity } from "../../src/pki/index.js";
import { testIp } from "./slot.js";

export class ControlMesh {
  private readonly links = new Map<string, ControlLink>();
  private readonly identities = new Map<string, TlsIdentity>();
  /** Member id → its control port (kept after a kill). */
  private readonly ports = new Map<string, number>();

  private constructor(
    private readonly dir: string,
    private readonly ids: readonly string[],
    private readonly net: number,
  ) {}

  static async create(ids: readonly string[], net: number): Promise<ControlMesh> {
    const mesh = new ControlMesh(mkdtempSync(join(tmpdir(), "thor-mesh-")), ids, net);
    try {
      await initCa(mesh.dir);
      for (const id of ids) await mesh.start(id);
    } catch (err) {
      await mesh.stop();
      throw err;
    }
    return mesh;
  }

  /** The loopback address of member `id`. */
  ip(id: string): string {
    const i = this.ids.indexOf(id);
    if (i < 0) throw new Error(`no member ${id} in the mesh`);
    return testIp(this.net, 1 + i);
  }

  /** Member `id` as the membership would list it. */
  entity(id: string, roles: string[]): Entity {
    return { id, ip: this.ip(id), roles, version: "t", ports: { control: this.link(id).port }, attrs: {}, startedAt: 1 };
  }

  /** Member `id`'s certificate (for its roles' own member links, e.g. the internal SIP listener). */
  identity(id: string): TlsIdentity {
    const i = this.identities.get(id);
    if (!i) throw new Error(`member ${id} has no identity`);
    return i;
  }

  link(id: string): ControlLink {
    const l = this.links.get(id);
    if (!l) throw new Error(`member ${id} has no running link`);
    return l;
  }

  /** Stop `id`'s link, as if the node died: calls to it are refused at once. */
  async kill(id: string): Promise<void> {
    const l = this.links.get(id);
    this.links.delete(id);
    await l?.stop();
  }

  /** Stop every link and remove the CA. */
  async stop(): Promise<void> {
    for (const id of [...this.links.keys()]) await this.kill(id);
    for (const i of this.identities.values()) i.close();
    this.identities.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async start(id: string): Promise<void> {
    await issueCertificate(this.dir, id, { ou: "node", ip: [this.ip(id)] });
    const identity = await TlsIdentity.load({ ca: join(this.dir, "ca.crt"), cert: join(this.dir, "certs", `${id}.crt`), key: join(this.dir, "certs", `${id}.key`) });
    this.identities.set(id, identity);
    const link = new ControlLink({
      identity,
      logger: silentLogger,
      host: this.ip(id),
      port: 0,
      dialFrom: this.ip(id),
      // A killed member keeps its address and port: a dial there is refused, as to a dead process.
      resolve: (m) => {
        const port = this.ports.get(m);
        return port === undefined ? undefined : { host: this.ip(m), port };
      },
    });
    await link.start();
    this.links.set(id, link);
    this.ports.set(id, link.port);
  }
}
