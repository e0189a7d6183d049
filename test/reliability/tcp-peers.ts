// TCP endpoints for the reliability tests: a connected client, a listener
// handing over what it accepts, a port nobody listens on, and closing a
// set of handles and waiting for their callbacks.
import { Loop, TCP } from '../../handles/index.js';

/** A connected client TCP handle; rejects (and closes it) on a failed connect. */
export function connectTcp(loop: Loop, port: number, host = '127.0.0.1'): Promise<TCP> {
  const c = new TCP(loop);
  return new Promise((resolve, reject) =>
    c.connect(host, port, (err) => {
      if (err !== null) c.close(() => reject(err));
      else resolve(c);
    }),
  );
}

/**
 * A port nobody listens on, held bound (not listening) until `release()`:
 * connects to it are refused, and while it is held neither another
 * listener nor a client's own port can take it. A port merely freed could
 * become a client's port (a connection with itself) or another test's
 * listener within a storm of connects.
 */
export function closedPort(loop: Loop): { port: number; release(): Promise<void> } {
  const holder = new TCP(loop);
  holder.bind('127.0.0.1', 0);
  return {
    port: holder.getsockname().port,
    release: () => new Promise<void>((r) => holder.close(r)),
  };
}

/** A listener whose accepted connections go to `onPeer`. */
export function listenTcp(loop: Loop, onPeer: (peer: TCP) => void, backlog = 128): TCP {
  const server = new TCP(loop);
  server.bind('127.0.0.1', 0);
  server.listen(backlog, (err) => {
    if (err !== null) return;
    const peer = new TCP(loop);
    server.accept(peer);
    onPeer(peer);
  });
  return server;
}

/** Closes handles and waits for their close callbacks. */
export function closeAll(
  ...handles: Array<{ close(cb?: () => void): void; closed: boolean } | undefined>
): Promise<void> {
  return Promise.all(
    handles.map((h) =>
      h === undefined || h.closed ? undefined : new Promise<void>((r) => h.close(r)),
    ),
  ).then(() => undefined);
}
