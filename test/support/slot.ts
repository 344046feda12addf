/**
 * The run slot of this test run, and every address a test may bind.
 *
 * Two suites may run at once on one machine (two worktrees, or CI beside a
 * developer). `npm test` (scripts/test.sh) takes a free slot N (0..7) by
 * holding `flock` on `/tmp/thor-test-slot-N` for the life of the run, and
 * exports it as `THOR_TEST_SLOT` to every test process. Each slot owns:
 *
 * - the loopback /16 `127.<100+N>.0.0/16` (all of 127.0.0.0/8 is loopback on
 *   Linux): a test names its addresses by their last two octets, the /24 it
 *   was given and the host, `testIp(130, 1)` → `127.100.130.1` in slot 0,
 *   `127.101.130.1` in slot 1; `testNet(130)` → `127.100.130` (for a lab's
 *   `subnet`, or a template `${testNet(130)}.${i}`);
 * - network namespaces named `thorp<N>-<tag>-<member>` ({@link netnsPrefix})
 *   on the private /16 `10.<155+N>.0.0/16` ({@link privateNet}); nothing is
 *   routed out of them;
 * - ports: a fixed port on an address that is not the slot's own (`::1`,
 *   `127.0.0.1`, a wildcard) is shifted by {@link slotPort}; prefer port 0.
 *
 * 127.0.0.0/16 is left to people (`thor demo`, benchmarks, experiments):
 * no test binds it. The rule is checked by `test/support/slot.test.ts`:
 * no `127.0.` literal in a test file outside this module. Run one test file
 * by hand with `node --test dist/test/x.test.js`: it runs in slot 0 unless
 * THOR_TEST_SLOT says otherwise (`scripts/test.sh --slot-env` prints a free
 * one to use, see test/README.md).
 */

/** How many suites may run at once (slots 0..MAX_SLOTS-1). */
export const MAX_SLOTS = 8;

function readSlot(): number {
  const raw = process.env["THOR_TEST_SLOT"] ?? "0";
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n >= MAX_SLOTS) throw new Error(`THOR_TEST_SLOT must be an integer 0..${MAX_SLOTS - 1}, not ${JSON.stringify(raw)}`);
  return n;
}

/** This run's slot (THOR_TEST_SLOT, default 0). */
export const SLOT = readSlot();

const SECOND_OCTET = 100 + SLOT;

function octet(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new Error(`${what} must be an octet 0..255, not ${n}`);
  return n;
}

/** The first three octets of the slot's loopback /24 number `net`, e.g. `127.100.130`. */
export function testNet(net: number): string {
  return `127.${SECOND_OCTET}.${octet(net, "net")}`;
}

/** Loopback address `host` in the slot's /24 number `net`, e.g. `testIp(130, 1)` = `127.100.130.1`. */
export function testIp(net: number, host: number): string {
  return `${testNet(net)}.${octet(host, "host")}`;
}

/** {@link testIp} with dots escaped, for a regular expression. */
export function testIpRe(net: number, host: number): string {
  return testIp(net, host).replaceAll(".", "\\.");
}

/** {@link testNet} with dots escaped, for a regular expression. */
export function testNetRe(net: number): string {
  return testNet(net).replaceAll(".", "\\.");
}

/** The first three octets of a /24 of the slot's private /16 for network namespaces, e.g. `privateNet(1)` = `10.155.1`. */
export function privateNet(net: number): string {
  return `10.${155 + SLOT}.${octet(net, "net")}`;
}

/** Prefix of every network namespace of this slot (`thorp<N>-`); names stay short (interface names are 15 bytes). */
export function netnsPrefix(): string {
  return `thorp${SLOT}-`;
}

/** Ports per slot for {@link slotPort}. */
export const PORTS_PER_SLOT = 1000;

/**
 * A fixed port on an address shared by every slot (`::1`, `127.0.0.1`):
 * `base` in slot 0, `base + 1000·N` in slot N. `base` must leave room
 * (at most 57_000); prefer port 0 or the slot's own addresses.
 */
export function slotPort(base: number): number {
  if (!Number.isInteger(base) || base < 1 || base + PORTS_PER_SLOT * (MAX_SLOTS - 1) > 65_535) throw new Error(`slotPort: base ${base} leaves no room for ${MAX_SLOTS} slots`);
  return base + PORTS_PER_SLOT * SLOT;
}

/**
 * The loopback address every slot shares. Use it only with port 0 (the kernel
 * hands out distinct ports), or where the kernel picks it (the source address
 * of a connection to any 127.x address).
 */
export const LOCALHOST = "127.0.0.1";
