// Connected stream pairs on one loop, for tests that need several
// connections whose reads land in the same pass (read-batch tests).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Loop, Pipe, TCP, type Stream } from '../../handles/index.js';

export type Kind = 'tcp' | 'pipe';

export interface Pairs {
  /** Our side of each connection, reading nothing yet. */
  servers: Stream[];
  /** The peers, in the same order. */
  clients: Stream[];
  listener: Stream;
}

let pipes = 0;

/** `n` connected pairs on `loop`, servers[i] accepted from clients[i]. */
export async function connectPairs(loop: Loop, kind: Kind, n: number): Promise<Pairs> {
  const listener = kind === 'tcp' ? new TCP(loop) : new Pipe(loop);
  const accepted: Stream[] = [];
  let onAccept: (() => void) | undefined;
  let address: { port: number } | string;
  if (listener instanceof TCP) {
    listener.bind('127.0.0.1', 0);
    address = listener.getsockname();
  } else {
    address = join(tmpdir(), `asyncuv-read-batch-${process.pid}-${pipes++}.sock`);
    (listener as Pipe).bind(address);
  }
  const accept = (err: Error | null): void => {
    if (err) throw err;
    const s = kind === 'tcp' ? new TCP(loop) : new Pipe(loop);
    if (listener instanceof TCP) listener.accept(s as TCP);
    else (listener as Pipe).accept(s);
    accepted.push(s);
    onAccept?.();
  };
  if (listener instanceof TCP) listener.listen(64, accept);
  else (listener as Pipe).listen(64, accept);
  const clients: Stream[] = [];
  for (let i = 0; i < n; i++) {
    const c = kind === 'tcp' ? new TCP(loop) : new Pipe(loop);
    const acceptedNow = new Promise<void>((resolve) => {
      onAccept = () => accepted.length === i + 1 && resolve();
      if (accepted.length === i + 1) resolve();
    });
    await new Promise<void>((resolve, reject) => {
      const cb = (err: Error | null): void => (err ? reject(err) : resolve());
      if (c instanceof TCP) c.connect('127.0.0.1', (address as { port: number }).port, cb);
      else (c as Pipe).connect(address as string, cb);
    });
    await acceptedNow;
    clients.push(c);
  }
  return { servers: accepted, clients, listener };
}
