import diagnosticsChannel from "node:diagnostics_channel";

/**
 * A named diagnostics channel that costs one property read when nobody
 * listens. Folders declare their channels in their own `diagnostics.ts`
 * (`thor:<folder>:<event>`); `monitor/` subscribes by name.
 */
export interface Channel<T> {
  readonly name: string;
  readonly hasSubscribers: boolean;
  publish(message: T): void;
}

export function channel<T extends object>(name: string): Channel<T> {
  const ch = diagnosticsChannel.channel(name);
  return {
    name,
    get hasSubscribers() {
      return ch.hasSubscribers;
    },
    publish(message: T) {
      if (ch.hasSubscribers) ch.publish(message);
    },
  };
}

export function subscribe<T>(name: string, fn: (message: T) => void): () => void {
  const handler = (message: unknown) => fn(message as T);
  diagnosticsChannel.subscribe(name, handler);
  return () => diagnosticsChannel.unsubscribe(name, handler);
}
