/**
 * The live heap of a running Node.js server, read from outside: SIGUSR1
 * opens its inspector (on the address given by its `--inspect-port`, so
 * nothing listens while it is measured), a full garbage collection runs
 * through the DevTools protocol, and the heap's use is read back.
 *
 * Why: V8 grows its heap lazily and seldom gives pages back, so a server's
 * PSS after a load is its high-water mark, not what it holds. Benchmarks
 * report both.
 */
import WebSocket from "ws";
import { sleep } from "../src/base/index.js";

interface Reply {
  id?: number;
  result?: { usedSize?: number; totalSize?: number };
  error?: { message: string };
}

/** Opens the inspector of `pid` (listening on `hostPort` once signalled), collects garbage, returns the heap used and reserved after it. */
export async function heapAfterGc(pid: number, hostPort: string, deadlineMs = 20_000): Promise<{ used: number; total: number }> {
  process.kill(pid, "SIGUSR1");
  const until = Date.now() + deadlineMs;
  let url: string | undefined;
  while (!url) {
    try {
      const list = (await (await fetch(`http://${hostPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl?: string }>;
      url = list[0]?.webSocketDebuggerUrl;
    } catch {
      // not listening yet
    }
    if (!url) {
      if (Date.now() > until) throw new Error(`inspector of ${pid} did not open on ${hostPort}`);
      await sleep(200);
    }
  }
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    let next = 1;
    const call = (method: string) =>
      new Promise<Reply["result"]>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), Math.max(1000, until - Date.now()));
        const onMessage = (data: WebSocket.RawData) => {
          const reply = JSON.parse(data.toString()) as Reply;
          if (reply.id !== id) return;
          clearTimeout(timer);
          ws.off("message", onMessage);
          if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
          else resolve(reply.result);
        };
        ws.on("message", onMessage);
        ws.send(JSON.stringify({ id, method }));
      });
    // Twice: the first collection may leave objects that only the second finds dead (weak references, finalizers).
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const usage = await call("Runtime.getHeapUsage");
    return { used: usage?.usedSize ?? 0, total: usage?.totalSize ?? 0 };
  } finally {
    ws.close();
  }
}
