import net from "node:net";

/**
 * A TCP forwarder a test can cut: `down()` closes every connection and
 * refuses new ones (the database "stops"), `up()` serves again, and
 * `cutAfter(n)` goes down once `n` more client bytes were forwarded (to
 * break a transaction in the middle).
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private budget: number | undefined;
  private isDown = false;
  port = 0;

  constructor(
    private readonly host: string,
    private readonly target: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.isDown) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target.port, this.target.host);
      this.conns.add(client);
      this.conns.add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.conns.delete(client);
        this.conns.delete(upstream);
      };
      client.on("data", (d: Buffer) => {
        if (this.budget !== undefined) {
          this.budget -= d.length;
          if (this.budget <= 0) {
            this.budget = undefined;
            this.down();
            return;
          }
        }
        upstream.write(d);
      });
      upstream.on("data", (d: Buffer) => client.write(d));
      client.on("error", close).on("close", close);
      upstream.on("error", close).on("close", close);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, this.host, resolve));
    const a = this.server.address();
    this.port = typeof a === "object" && a ? a.port : 0;
  }

  down(): void {
    this.isDown = true;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
  }

  up(): void {
    this.isDown = false;
  }

  cutAfter(bytes: number): void {
    this.budget = bytes;
  }

  async stop(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
