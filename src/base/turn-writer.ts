/**
 * Writes to a stream socket that leave together per turn of the event
 * loop: the socket is corked at the first write of a turn and uncorked once
 * the loop has handled its ready I/O (setImmediate). A burst of messages
 * (one per SIP message of a batch of datagrams, one per control frame)
 * costs one TLS record and one system call instead of one each; the delay
 * is at most the rest of the turn.
 */
import type { Writable } from "node:stream";

/** A write function for `socket` that batches the writes of one loop turn. */
export function turnWriter(socket: Writable): (data: Buffer | string) => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return (data) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    socket.write(data);
  };
}
