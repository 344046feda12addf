/**
 * `npm run bench`: runs every benchmark module, prints the figures and
 * rewrites the generated section of docs/PERFORMANCE.md. Each module exports
 * `run(): Promise<BenchResult[]>`; figures with a baseline are reported as a
 * ratio against the baseline measured in the same run.
 *
 * Usage: npm run bench [-- <name-filter> ...]
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { BenchResult } from "./types.js";

/** `onRequest`: long runs, only when a filter names them (`npm run bench -- sip-fuzz`). */
const MODULES: ReadonlyArray<{ name: string; path: string; onRequest?: boolean }> = [
  { name: "ring-lookup", path: "./ring-lookup.js" },
  { name: "lookup-tcp", path: "./lookup-tcp.js" },
  { name: "control-codec", path: "./control-codec.js" },
  { name: "sip-parser", path: "./sip-parser.js" },
  { name: "sip-fuzz", path: "./sip-fuzz.js", onRequest: true },
  { name: "sip-load", path: "./sip-load.js" },
  { name: "failover", path: "./failover.js" },
  { name: "chaos", path: "./chaos.js", onRequest: true },
  { name: "sip-cluster", path: "./sip-cluster.js" },
  { name: "dns", path: "./dns.js" },
  { name: "provisioning", path: "./provisioning.js" },
  { name: "media", path: "./media.js" },
  { name: "presence", path: "./presence.js" },
  { name: "scale", path: "./scale.js", onRequest: true },
];

const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

function fmt(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(n >= 10 ? 1 : 2);
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const selected = MODULES.filter((m) => (filters.length === 0 ? !m.onRequest : filters.some((f) => m.name.includes(f))));
  const sections: string[] = [];
  for (const mod of selected) {
    const url = new URL(mod.path, import.meta.url);
    if (!existsSync(fileURLToPath(url))) continue;
    process.stdout.write(`# ${mod.name}\n`);
    const { run } = (await import(url.href)) as { run: () => Promise<BenchResult[]> };
    const results = await run();
    const rows = results.map((r) => {
      const ratio = r.baseline ? `${(r.value / r.baseline.value).toFixed(2)}× ${r.baseline.name} (${fmt(r.baseline.value)} ${r.unit})` : "";
      const line = `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${ratio} | ${r.note ?? ""} |`;
      process.stdout.write(`  ${r.name}: ${fmt(r.value)} ${r.unit}${ratio ? `  [${ratio}]` : ""}${r.note ? `  (${r.note})` : ""}\n`);
      return line;
    });
    sections.push(`### ${mod.name}\n\n| benchmark | result | vs baseline (same run) | note |\n| --- | --- | --- | --- |\n${rows.join("\n")}\n`);
  }
  if (filters.length > 0) return; // partial runs do not rewrite the document
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
  const generated = `${START}\nMeasured ${new Date().toISOString().slice(0, 10)} on ${machine}.\n\n${sections.join("\n")}${END}`;
  const docPath = fileURLToPath(new URL("../../docs/PERFORMANCE.md", import.meta.url));
  const doc = existsSync(docPath) ? readFileSync(docPath, "utf8") : `# Performance\n\n${START}\n${END}\n`;
  const i = doc.indexOf(START);
  const j = doc.indexOf(END);
  const next = i >= 0 && j > i ? doc.slice(0, i) + generated + doc.slice(j + END.length) : `${doc}\n${generated}\n`;
  writeFileSync(docPath, next);
  process.stdout.write(`\nwrote ${docPath}\n`);
}

await main();
