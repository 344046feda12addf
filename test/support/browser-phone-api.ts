/**
 * What the browser phone page (test/browser-page/phone.ts, bundled with
 * esbuild and run in Chromium) offers the Node side of the browser tests,
 * on `globalThis.thorPhone`. Plain data only: it crosses the DevTools
 * protocol.
 */
export type PhoneLibrary = "jssip" | "sipjs";

export interface PhoneConfig {
  library: PhoneLibrary;
  /** `ws://host:port` or `wss://host:port`. */
  server: string;
  user: string;
  password: string;
  domain: string;
  /** Answer incoming calls at once. */
  autoAnswer: boolean;
}

export type CallPhase = "idle" | "calling" | "established" | "ended";

export interface PhoneState {
  registered: boolean;
  /** Bodies of MESSAGE requests received. */
  messages: string[];
  /** Outcomes of MESSAGE requests sent: "ok" or a failure reason. */
  sent: string[];
  call: {
    phase: CallPhase;
    /** Who ended the call: "local" or "remote"; the library's cause. */
    endedBy: string | undefined;
    cause: string | undefined;
    ice: string | undefined;
    /** Current direction of the audio transceiver (hold shows as sendonly / recvonly / inactive). */
    direction: string | undefined;
    packetsReceived: number;
    packetsSent: number;
    /** Contact of the other party's last request or response as the library saw it (GRUU check). */
    remoteTarget: string | undefined;
    /** Calls established so far (counts re-INVITE-free ones only once). */
    established: number;
  };
  /** Library and phone events, newest last (at most 200), for failure messages. */
  log: string[];
}

export interface PhoneApi {
  start(cfg: PhoneConfig): Promise<void>;
  register(): Promise<void>;
  unregister(): Promise<void>;
  message(target: string, body: string): Promise<void>;
  call(target: string): Promise<void>;
  hold(): Promise<void>;
  unhold(): Promise<void>;
  hangup(): Promise<void>;
  stop(): Promise<void>;
  state(): Promise<PhoneState>;
}
