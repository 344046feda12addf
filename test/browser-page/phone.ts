/**
 * The browser phone of the browser interop tests: JsSIP or SIP.js with
 * their default settings, driven from Node (test/e2e/browser.test.ts)
 * through `globalThis.thorPhone` (test/support/browser-phone-api.ts).
 * Bundled for the page with esbuild at test time; type-checked by
 * `tsc -p test/browser-page` in `npm run build`.
 *
 * One thing is not the libraries' default: ICE candidates other than
 * loopback ones are left out of the descriptions this page gives its
 * library (the RTCPeerConnection below), so that media between the test's
 * browsers stays on 127/8 like every other test's traffic. ICE
 * itself runs as always: checks, nomination, consent, DTLS on top.
 */
import * as JsSIP from "jssip";
import { Invitation, Inviter, Messager, Registerer, RegistererState, SessionState, UserAgent, Web, type Session } from "sip.js";
import type { UAEventMap } from "jssip/lib/UA.js";
import type { RTCSessionEventMap } from "jssip/lib/RTCSession.js";
import type { CallPhase, PhoneApi, PhoneConfig, PhoneState } from "../support/browser-phone-api.js";

type UaEvent<K extends keyof UAEventMap> = Parameters<UAEventMap[K]>[0];
type SessionEvent<K extends keyof RTCSessionEventMap> = Parameters<RTCSessionEventMap[K]>[0];

const LOG_MAX = 200;
const log: string[] = [];
function note(text: string): void {
  log.push(`${new Date().toISOString().slice(11, 23)} ${text}`);
  if (log.length > LOG_MAX) log.splice(0, log.length - LOG_MAX);
}

/** Keep only loopback candidates (and every non-candidate line). */
function loopbackOnly(sdp: string): string {
  return sdp
    .split("\r\n")
    .filter((l) => !l.startsWith("a=candidate:") || / 127\.\d+\.\d+\.\d+ \d+ typ /.test(l))
    .join("\r\n");
}

const NativePeerConnection = globalThis.RTCPeerConnection;
class LoopbackPeerConnection extends NativePeerConnection {
  override get localDescription(): RTCSessionDescription | null {
    const d = super.localDescription;
    return d ? new RTCSessionDescription({ type: d.type, sdp: loopbackOnly(d.sdp) }) : null;
  }
}
globalThis.RTCPeerConnection = LoopbackPeerConnection;

interface CallDriver {
  pc(): RTCPeerConnection | undefined;
  hold(): Promise<void>;
  unhold(): Promise<void>;
  hangup(): Promise<void>;
}

const state: PhoneState = {
  registered: false,
  messages: [],
  sent: [],
  call: { phase: "idle", endedBy: undefined, cause: undefined, ice: undefined, direction: undefined, packetsReceived: 0, packetsSent: 0, remoteTarget: undefined, established: 0 },
  log,
};
let current: CallDriver | undefined;

function newCall(driver: CallDriver, phase: CallPhase): void {
  current = driver;
  state.call = { phase, endedBy: undefined, cause: undefined, ice: undefined, direction: undefined, packetsReceived: 0, packetsSent: 0, remoteTarget: undefined, established: state.call.established };
}
function established(): void {
  if (state.call.phase !== "established") state.call.established++;
  state.call.phase = "established";
  note("call established");
}
function ended(by: string, cause: string): void {
  if (state.call.phase === "ended") return;
  state.call.phase = "ended";
  state.call.endedBy = by;
  state.call.cause = cause;
  note(`call ended by ${by}: ${cause}`);
}
function need(): CallDriver {
  if (!current) throw new Error("no call");
  return current;
}
const AUDIO = { audio: true, video: false };

interface Library {
  register(): Promise<void>;
  unregister(): Promise<void>;
  message(target: string, body: string): Promise<void>;
  call(target: string): Promise<void>;
  stop(): Promise<void>;
}

/** JsSIP 3.x with its defaults (registers when started, asks for a GRUU, session timers). */
function jssip(cfg: PhoneConfig): Library {
  let started = false;
  const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(cfg.server)], uri: `sip:${cfg.user}@${cfg.domain}`, password: cfg.password });
  ua.on("registered", () => {
    state.registered = true;
    note("registered");
  });
  ua.on("unregistered", () => {
    state.registered = false;
    note("unregistered");
  });
  ua.on("registrationFailed", (e: UaEvent<"registrationFailed">) => note(`registration failed: ${e.cause ?? "?"}`));
  ua.on("newMessage", (e: UaEvent<"newMessage">) => {
    if (e.originator === "remote") state.messages.push(e.request.body ?? "");
  });
  ua.on("newRTCSession", (e: UaEvent<"newRTCSession">) => {
    const session = e.session;
    newCall(
      {
        pc: () => session.connection ?? undefined,
        hold: async () => void session.hold(),
        unhold: async () => void session.unhold(),
        hangup: async () => session.terminate(),
      },
      "calling",
    );
    session.on("confirmed", () => established());
    session.on("accepted", () => note("accepted"));
    session.on("ended", (x: SessionEvent<"ended">) => ended(x.originator === "local" ? "local" : "remote", String(x.cause)));
    session.on("failed", (x: SessionEvent<"failed">) => ended(x.originator === "local" ? "local" : "remote", `failed: ${String(x.cause)}`));
    session.on("hold", (x: SessionEvent<"hold">) => note(`hold (${x.originator})`));
    session.on("unhold", (x: SessionEvent<"unhold">) => note(`unhold (${x.originator})`));
    session.on("reinvite", () => note("re-INVITE received"));
    session.on("update", () => note("UPDATE received"));
    session.on("sdp", (x: SessionEvent<"sdp">) => note(`sdp ${x.originator} ${x.type}`));
    if (e.originator === "remote") {
      state.call.remoteTarget = e.request.getHeader("Contact");
      if (cfg.autoAnswer) session.answer({ mediaConstraints: AUDIO });
    }
  });
  ua.on("connected", () => note("ws connected"));
  ua.on("disconnected", () => note("ws disconnected"));
  return {
    // Started, the UA registers by itself (its default `register: true`); later, register() again.
    register: async () => (started ? ua.register() : ((started = true), ua.start())),
    unregister: async () => ua.unregister(),
    message: async (target, body) => {
      ua.sendMessage(target, body, { eventHandlers: { succeeded: () => void state.sent.push("ok"), failed: (x) => void state.sent.push(`failed: ${String(x.cause)}`) } });
    },
    call: async (target) => {
      ua.call(target, { mediaConstraints: AUDIO });
    },
    stop: async () => ua.stop(),
  };
}

/** SIP.js 0.21 with its defaults (Web session description handler). */
async function sipjs(cfg: PhoneConfig): Promise<Library> {
  let localBye = false;
  const track = (session: Session) => {
    localBye = false;
    newCall(
      {
        pc: () => (session.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined)?.peerConnection,
        hold: async () => {
          session.sessionDescriptionHandlerOptionsReInvite = { hold: true } as Web.SessionDescriptionHandlerOptions;
          await session.invite();
        },
        unhold: async () => {
          session.sessionDescriptionHandlerOptionsReInvite = { hold: false } as Web.SessionDescriptionHandlerOptions;
          await session.invite();
        },
        hangup: async () => {
          localBye = true;
          if (session.state === SessionState.Established) await session.bye();
          else if (session instanceof Inviter) await session.cancel();
          else if (session instanceof Invitation) await session.reject();
        },
      },
      "calling",
    );
    session.stateChange.addListener((s) => {
      note(`session ${s}`);
      if (s === SessionState.Established) established();
      if (s === SessionState.Terminated) ended(localBye ? "local" : "remote", "terminated");
    });
  };
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${cfg.user}@${cfg.domain}`),
    transportOptions: { server: cfg.server },
    authorizationUsername: cfg.user,
    authorizationPassword: cfg.password,
    delegate: {
      onInvite: (invitation) => {
        track(invitation);
        state.call.remoteTarget = invitation.request.getHeader("Contact");
        if (cfg.autoAnswer) invitation.accept({ sessionDescriptionHandlerOptions: { constraints: AUDIO } }).catch((err: unknown) => note(`accept failed: ${String(err)}`));
      },
      onMessage: (message) => {
        state.messages.push(message.request.body);
        message.accept().catch(() => undefined);
      },
      onConnect: () => note("ws connected"),
      onDisconnect: (err) => note(`ws disconnected ${err ? err.message : ""}`),
    },
  });
  const registerer = new Registerer(ua);
  registerer.stateChange.addListener((s) => {
    state.registered = s === RegistererState.Registered;
    note(`registerer ${s}`);
  });
  return {
    register: async () => {
      if (!ua.isConnected()) await ua.start();
      await registerer.register();
    },
    unregister: async () => void (await registerer.unregister()),
    message: async (target, body) => {
      const uri = UserAgent.makeURI(target);
      if (!uri) throw new Error(`bad target ${target}`);
      await new Messager(ua, uri, body).message({ requestDelegate: { onAccept: () => void state.sent.push("ok"), onReject: (r) => void state.sent.push(`failed: ${r.message.statusCode ?? "?"}`) } });
    },
    call: async (target) => {
      const uri = UserAgent.makeURI(target);
      if (!uri) throw new Error(`bad target ${target}`);
      const inviter = new Inviter(ua, uri, { sessionDescriptionHandlerOptions: { constraints: AUDIO } });
      track(inviter);
      await inviter.invite({ requestDelegate: { onAccept: (r) => void (state.call.remoteTarget = r.message.getHeader("Contact")) } });
    },
    stop: async () => ua.stop(),
  };
}

let lib: Library | undefined;
const must = (): Library => {
  if (!lib) throw new Error("phone not started");
  return lib;
};

async function readStats(): Promise<void> {
  const pc = current?.pc();
  if (!pc) return;
  state.call.ice = pc.iceConnectionState;
  const t = pc.getTransceivers().find((x) => x.receiver.track.kind === "audio");
  state.call.direction = t?.currentDirection ?? undefined;
  const stats = await pc.getStats();
  stats.forEach((r: { type: string; kind?: string; packetsReceived?: number; packetsSent?: number }) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") state.call.packetsReceived = r.packetsReceived ?? 0;
    if (r.type === "outbound-rtp" && r.kind === "audio") state.call.packetsSent = r.packetsSent ?? 0;
  });
}

const api: PhoneApi = {
  start: async (cfg) => {
    lib = cfg.library === "jssip" ? jssip(cfg) : await sipjs(cfg);
    note(`started ${cfg.library} ${cfg.user} via ${cfg.server}`);
  },
  register: () => must().register(),
  unregister: () => must().unregister(),
  message: (t, b) => must().message(t, b),
  call: (t) => must().call(t),
  hold: () => need().hold(),
  unhold: () => need().unhold(),
  hangup: () => need().hangup(),
  stop: () => must().stop(),
  state: async () => {
    await readStats();
    return structuredClone(state);
  },
};
(globalThis as unknown as { thorPhone: PhoneApi }).thorPhone = api;
