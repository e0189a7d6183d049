// What the tests of the creators' `sock` option (asyncio's sock=) share: a
// protocol that names its server, a client that asks it, and a directory
// for socket files.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Protocol, Transport } from 'asyncuv';
import { within } from './loop-test.js';

/** A protocol factory whose protocols answer every chunk with `name`. */
export function naming(name: string): () => Protocol {
  return () => {
    let transport: Transport;
    return {
      connectionMade: (t: Transport) => (transport = t),
      dataReceived: () => transport.write(name),
    };
  };
}

/** Connects to `to` (a port on 127.0.0.1 or a Unix socket path), asks, and returns the answer. */
export async function ask(to: number | string): Promise<string> {
  const socket = typeof to === 'number' ? net.connect(to, '127.0.0.1') : net.connect(to);
  socket.write('?');
  const [data] = (await within(once(socket, 'data'), 'an answer', 5000)) as [Buffer];
  socket.destroy();
  return data.toString();
}

/** A fresh directory for socket files: path(name) in it, remove() when done. */
export function tempDir(): { path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-sock-'));
  return {
    path: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
