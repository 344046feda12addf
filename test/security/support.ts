/**
 * Helpers of the public-SIP security tests: message builders, a UDP/TCP
 * probe that waits for answers with a deadline, a digest REGISTER, a
 * started in-process server, and the CPU time a child process has used
 * (from /proc).
 */
import dgram from "node:dgram";
import net from "node:net";
import { readFileSync } from "node:fs";
import { silentLogger } from "../../src/base/index.js";
import { MemoryCredentialStore, SipServer, type SipServerOptions, type TransportName } from "../../src/sip/index.js";
import { waitFor } from "../support/wait-for.js";

/** A SIP message from header lines (CRLF, blank line, Content-Length added when missing). */
export function sipMessage(lines: readonly string[], body = ""): Buffer {
  const head = lines.some((l) => /^content-length\s*:/i.test(l)) ? lines : [...lines, `Content-Length: ${Buffer.byteLength(body)}`];
  return Buffer.from(`${head.join("\r\n")}\r\n\r\n${body}`);
}

/** A bound UDP socket that collects what it receives. */
export async function udpClient(ip: string): Promise<{ socket: dgram.Socket; got: string[]; port: number; close(): void }> {
  const socket = dgram.createSocket("udp4");
  const got: string[] = [];
  socket.on("message", (m) => got.push(m.toString("latin1")));
  await new Promise<void>((r) => socket.bind(0, ip, () => r()));
  return { socket, got, port: socket.address().port, close: () => socket.close() };
}

/** Send one datagram from `ip` and wait for `expect` answers. */
export async function udpExchange(ip: string, data: Buffer, to: { host: string; port: number }, expect = 1, timeoutMs = 3000): Promise<string[]> {
  const c = await udpClient(ip);
  try {
    c.socket.send(data, to.port, to.host);
    await waitFor(() => c.got.length >= expect, { timeoutMs, message: `${expect} answer(s) from ${to.host}:${to.port}` });
    return c.got;
  } finally {
    c.close();
  }
}

/** A TCP connection from `ip` that collects what it receives and whether it closed. */
export async function tcpClient(ip: string, to: { host: string; port: number }): Promise<{ socket: net.Socket; text: () => string; closed: () => boolean }> {
  const socket = net.connect({ host: to.host, port: to.port, localAddress: ip });
  let text = "";
  let closed = false;
  socket.setEncoding("latin1").on("data", (d: string) => (text += d));
  socket.on("close", () => (closed = true));
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("close", () => reject(new Error("closed before connecting")));
  });
  return { socket, text: () => text, closed: () => closed };
}

/** User plus system CPU time of a process so far, in milliseconds (Linux /proc). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command name: field 14 (utime) and 15 (stime) of proc(5) are at index 11 and 12 here.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** An OPTIONS request from `ip` (Via transport `transport`). */
export function options(ip: string, branch: string, transport = "UDP", extra: readonly string[] = []): Buffer {
  return sipMessage([`OPTIONS sip:example.test SIP/2.0`, `Via: SIP/2.0/${transport} ${ip}:5999;branch=z9hG4bK${branch};rport`, `From: <sip:probe@elsewhere.test>;tag=1`, `To: <sip:example.test>`, `Call-ID: ${branch}`, `CSeq: 1 OPTIONS`, "Max-Forwards: 70", ...extra]);
}

/**
 * REGISTER `user` with digest authentication (MD5, qop=auth) over UDP from
 * `ip`, with the given Contact values; resolves with the final answer.
 */
export async function registerUdp(opts: { ip: string; to: { host: string; port: number }; user: string; password: string; domain: string; contacts: readonly string[]; callId?: string; expires?: number }): Promise<string> {
  const { computeHa1, digestResponse } = await import("../../src/sip/index.js");
  const callId = opts.callId ?? `reg-${opts.user}-${Math.random().toString(36).slice(2)}`;
  const c = await udpClient(opts.ip);
  try {
    const request = (cseq: number, auth: string[]) =>
      sipMessage([
        `REGISTER sip:${opts.domain} SIP/2.0`,
        `Via: SIP/2.0/UDP ${opts.ip}:${c.port};branch=z9hG4bK${callId}-${cseq};rport`,
        `From: <sip:${opts.user}@${opts.domain}>;tag=r${cseq}`,
        `To: <sip:${opts.user}@${opts.domain}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} REGISTER`,
        "Max-Forwards: 70",
        `Expires: ${opts.expires ?? 600}`,
        ...opts.contacts.map((x) => `Contact: ${x}`),
        ...auth,
      ]);
    c.socket.send(request(1, []), opts.to.port, opts.to.host);
    await waitFor(() => c.got.length >= 1, { timeoutMs: 3000, message: "REGISTER challenge" });
    const challenge = c.got[0]!;
    if (!/^SIP\/2\.0 401/.test(challenge)) return challenge;
    const line = challenge.split("\r\n").find((l) => /^WWW-Authenticate:.*algorithm=MD5/i.test(l)) ?? challenge.split("\r\n").find((l) => /^WWW-Authenticate:/i.test(l)) ?? "";
    const nonce = /nonce="([^"]+)"/.exec(line)?.[1] ?? "";
    const realm = /realm="([^"]+)"/.exec(line)?.[1] ?? opts.domain;
    const uri = `sip:${opts.domain}`;
    const response = digestResponse("MD5", computeHa1("MD5", opts.user, realm, opts.password), nonce, "REGISTER", uri, { qop: "auth", nc: "00000001", cnonce: "c0ffee" });
    c.socket.send(request(2, [`Authorization: Digest username="${opts.user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`]), opts.to.port, opts.to.host);
    await waitFor(() => c.got.length >= 2, { timeoutMs: 3000, message: "REGISTER answer" });
    return c.got[1]!;
  } finally {
    c.close();
  }
}

/**
 * A started SIP server on `host` (port 0 for every transport) serving
 * example.test with alice/alice-secret (MD5 digest), plus `options`; and
 * the port each transport got.
 */
export async function startSipServer(host: string, transports: readonly TransportName[], options: Partial<SipServerOptions> = {}): Promise<{ server: SipServer; port: Partial<Record<TransportName, number>> }> {
  const credentials = new MemoryCredentialStore("example.test");
  credentials.set("alice", { password: "alice-secret" });
  const server = new SipServer({ logger: silentLogger, listen: transports.map((transport) => ({ transport, host, port: 0 })), domains: ["example.test"], credentials, algorithms: ["MD5"], ...options });
  await server.start();
  const port: Partial<Record<TransportName, number>> = {};
  for (const b of server.transport.bound()) port[b.transport] = b.boundPort;
  return { server, port };
}
