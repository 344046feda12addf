/**
 * The built-in relay in a process of its own for `npm run bench -- media`
 * (pinned to one core by the caller): JSON lines on stdin
 * (`{id, op: "offer"|"update", d}`), answers on stdout (`{id, streams}`).
 */
import { createInterface } from "node:readline";
import { silentLogger } from "../src/base/index.js";
import { MediaRelay, type MediaDescription } from "../src/media/index.js";

const [listen = "127.0.130.220", min = "44000", max = "47999", dataPath = "native"] = process.argv.slice(2);
const relay = new MediaRelay({ interfaces: [{ listen }], logger: silentLogger, portMin: Number(min), portMax: Number(max), maxSessions: 10_000, dataPath: dataPath === "js" ? "js" : "native" });
relay.start();
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const req = JSON.parse(line) as { id: number; op: "offer" | "update"; d: MediaDescription };
  (req.op === "offer" ? relay.offer(req.d) : relay.update(req.d)).then(
    (streams) => process.stdout.write(`${JSON.stringify({ id: req.id, streams })}\n`),
    (err: unknown) => process.stdout.write(`${JSON.stringify({ id: req.id, error: String(err) })}\n`),
  );
});
rl.on("close", () => {
  relay.stop();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
