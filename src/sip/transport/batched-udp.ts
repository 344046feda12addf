/**
 * A UDP socket of the sockets addon (native/reuseport/udp_batch.c): the
 * datagrams that arrive together are read with one recvmmsg and handed up
 * in one call; the datagrams sent during one turn of the event loop leave
 * in one sendmmsg, right after the turn's I/O callbacks (setImmediate).
 * Node's dgram pays a call into JavaScript per datagram received and a
 * system call, a request object and (on loopback) a wake-up of the
 * receiver per datagram sent. docs/PERFORMANCE.md, "Batched UDP".
 *
 * Back-pressure: when the kernel's send buffer is full (EAGAIN) the queue
 * waits for the socket to become writable; while it waits, datagrams that
 * do not fit the outbox are dropped and logged (UDP may lose them; SIP
 * retransmits), never queued without bound.
 */
import os from "node:os";
import util from "node:util";
import type { SocketsAddon, UdpHandle } from "../../base/index.js";
import type { Address } from "./types.js";

const SLOTS = 32;
const SLOT_BYTES = 65536;
const NAME_BYTES = 48;
const FIELDS = 8;
/** Datagrams queued for one sendmmsg round. */
const MAX_QUEUED = 1024;
/** @default 2 MiB: the outbox of queued datagrams */
const OUTBOX_BYTES = 2 * 1024 * 1024;
const EAGAIN = os.constants.errno.EAGAIN;

/** Who hears about a datagram that could not be sent. */
export interface DatagramErrorSink {
  onError(err: Error): void;
}

/** What a UDP flow sends through (the batched socket, or Node's dgram socket). */
export interface DatagramSender {
  /** Queue `data` for `remote`; a send error goes to `sink` (if any). Throws on an unusable destination. */
  send(data: Buffer, remote: Address, sink: DatagramErrorSink | undefined): void;
}

export interface BatchedUdpEvents {
  /** One received datagram: `data` is valid only during the call (copy what is kept). */
  onDatagram(data: Buffer, remote: Address): void;
  /** A receive error, or datagrams dropped because the send queue was full. */
  onTrouble(what: string, err?: Error): void;
}

export class BatchedUdpSocket implements DatagramSender {
  private readonly inbox = Buffer.allocUnsafe(SLOTS * SLOT_BYTES);
  private readonly inTable = new Int32Array(SLOTS * FIELDS);
  private readonly names = Buffer.alloc(SLOTS * NAME_BYTES);
  private readonly outbox = Buffer.allocUnsafe(OUTBOX_BYTES);
  private readonly outTable = new Int32Array(MAX_QUEUED * FIELDS);
  private readonly outBytes = new Uint8Array(this.outTable.buffer);
  private readonly sinks: Array<DatagramErrorSink | undefined> = new Array(MAX_QUEUED).fill(undefined);
  /** Packed destination addresses (family in byte 16), by text. */
  private readonly packed = new Map<string, Uint8Array>();
  /** Sender addresses as text, by IPv4 address (as the kernel's int). */
  private readonly v4Names = new Map<number, string>();
  private readonly handle: UdpHandle;
  private queued = 0;
  private first = 0;
  private used = 0;
  private scheduled = false;
  private waitingWritable = false;
  private closed = false;
  private readonly flushNow = () => {
    this.scheduled = false;
    this.flush();
  };

  /** Adopt `fd` (from addon.udpOpen) and start reading. */
  constructor(
    private readonly addon: SocketsAddon,
    private readonly fd: number,
    private readonly events: BatchedUdpEvents,
  ) {
    this.handle = addon.udpStart(fd, this.inbox, this.inTable, this.names, (count) => this.received(count), () => {
      this.waitingWritable = false;
      this.flush();
    });
  }

  get localPort(): number {
    return this.addon.udpLocalPort(this.fd);
  }

  send(data: Buffer, remote: Address, sink: DatagramErrorSink | undefined): void {
    if (this.closed) throw new Error("UDP socket closed");
    let packed = this.packed.get(remote.address);
    if (packed === undefined) {
      packed = new Uint8Array(17);
      const family = this.addon.packAddress(remote.address, packed);
      if (family === 0) throw new Error(`not an IP address: ${remote.address}`);
      packed[16] = family;
      if (this.packed.size >= 65536) this.packed.clear();
      this.packed.set(remote.address, packed);
    }
    if (this.queued === MAX_QUEUED || this.used + data.length > OUTBOX_BYTES) {
      this.flush();
      if (this.queued === MAX_QUEUED || this.used + data.length > OUTBOX_BYTES) {
        this.events.onTrouble("UDP send queue full: datagram dropped");
        return;
      }
    }
    const i = this.queued++;
    const row = i * FIELDS;
    data.copy(this.outbox, this.used);
    this.outTable[row] = this.used;
    this.outTable[row + 1] = data.length;
    this.outTable[row + 2] = packed[16]!;
    this.outTable[row + 3] = remote.port;
    this.outBytes.set(packed.subarray(0, 16), (row + 4) * 4);
    this.sinks[i] = sink;
    this.used += data.length;
    if (!this.scheduled && !this.waitingWritable) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Send what is queued (until the kernel's buffer is full). */
  flush(): void {
    if (this.closed || this.waitingWritable) return;
    while (this.first < this.queued) {
      const r = this.addon.udpSend(this.handle, this.outbox, this.outTable, this.first, this.queued);
      if (r > 0) {
        this.first += r;
      } else if (r === -EAGAIN) {
        this.waitingWritable = true;
        this.addon.udpWantWritable(this.handle);
        return;
      } else {
        const sink = this.sinks[this.first];
        const row = this.first * FIELDS;
        this.sinks[this.first++] = undefined;
        if (sink) sink.onError(sendError(r, this.outTable[row + 3]!));
      }
    }
    this.sinks.fill(undefined, 0, this.queued);
    this.queued = this.first = this.used = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.addon.udpClose(this.handle);
  }

  private received(count: number): void {
    if (count < 0) {
      this.events.onTrouble("UDP receive error", sendError(count, 0, "recvmmsg"));
      return;
    }
    const t = this.inTable;
    for (let i = 0; i < count; i++) {
      const row = i * FIELDS;
      let address: string;
      if (t[row + 1] === 4) {
        const key = t[row + 4]!;
        let name = this.v4Names.get(key);
        if (name === undefined) {
          name = this.names.toString("latin1", i * NAME_BYTES, i * NAME_BYTES + t[row + 3]!);
          if (this.v4Names.size >= 65536) this.v4Names.clear();
          this.v4Names.set(key, name);
        }
        address = name;
      } else {
        address = this.names.toString("latin1", i * NAME_BYTES, i * NAME_BYTES + t[row + 3]!);
      }
      const start = i * SLOT_BYTES;
      try {
        this.events.onDatagram(this.inbox.subarray(start, start + t[row]!), { address, port: t[row + 2]! });
      } catch (err) {
        this.events.onTrouble("UDP datagram handler failed", err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}

function sendError(negErrno: number, port: number, syscall = "send"): Error {
  const code = util.getSystemErrorName(negErrno);
  return Object.assign(new Error(`${syscall} ${code}${port ? ` (port ${port})` : ""}`), { code, errno: negErrno, syscall });
}
