/**
 * The public lookup interface over loopback TCP: pipelined `lookup` requests
 * answered by a real LookupServer on a 100-node ring, against a baseline
 * server in the same process that answers each line with a constant (the
 * cost of line framing and sockets alone). About 2 s.
 */
import net from "node:net";
import { silentLogger } from "../src/base/index.js";
import { LookupServer, RoleMap, type Entity } from "../src/overlay/index.js";
import type { BenchResult } from "./types.js";

const REQUESTS = 200_000;
const BATCH = 1000;
const GIVE_UP_MS = 30_000;

/** Answers per second for REQUESTS pipelined requests on one connection, two batches in flight. */
async function drive(port: number): Promise<number> {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  const batch = Array.from({ length: BATCH }, (_, i) => `lookup sip_proxy for user${i}@example.com\r\n`).join("");
  let answered = 0;
  let sent = 0;
  const start = performance.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${answered} of ${REQUESTS} answers after ${GIVE_UP_MS} ms`)), GIVE_UP_MS);
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) answered++;
        while (sent - answered < 2 * BATCH && sent < REQUESTS) {
          socket.write(batch);
          sent += BATCH;
        }
        if (answered >= REQUESTS) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.write(batch + batch);
      sent = 2 * BATCH;
    });
  } finally {
    socket.destroy();
  }
  return REQUESTS / ((performance.now() - start) / 1000);
}

export async function run(): Promise<BenchResult[]> {
  const members: Entity[] = Array.from({ length: 100 }, (_, i) => ({ id: `n${i}`, ip: `10.0.0.${i + 1}`, roles: ["sip_proxy"], version: "1", ports: {}, attrs: {}, startedAt: 1 }));
  const map = RoleMap.fromMembers(members);
  const server = new LookupServer({ host: "127.0.0.1", port: 0, logger: silentLogger, resolve: () => map });
  const baseline = net.createServer((s) => {
    let rest = "";
    s.setNoDelay(true);
    s.setEncoding("utf8").on("data", (d: string) => {
      const lines = (rest + d).split("\n");
      rest = lines.pop() ?? "";
      s.write("10.0.0.1\r\n".repeat(lines.length));
    });
    s.on("error", () => undefined);
  });
  try {
    const { port } = await server.start();
    await new Promise<void>((r) => baseline.listen(0, "127.0.0.1", () => r()));
    const basePort = (baseline.address() as net.AddressInfo).port;
    await drive(port); // warm-up
    await drive(basePort);
    const real = await drive(port);
    const base = await drive(basePort);
    return [{ name: "pipelined lookups over TCP, 100-node ring", value: real, unit: "answers/s", baseline: { name: "constant-answer line server", value: base }, note: "one connection, client and server in one process" }];
  } finally {
    await server.stop();
    await new Promise<void>((r) => baseline.close(() => r()));
  }
}
