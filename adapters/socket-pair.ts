// A connected pair of Unix stream sockets. Node has no socketpair() or
// pipe(); a listener on a temporary path gives the same thing, and is how
// NodeEventLoop sends a child's stderr into the same pipe as its stdout.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const dir = await mkdtemp(join(tmpdir(), 'asyncuv-pair-'));
  const path = join(dir, 's');
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect({ path, allowHalfOpen: true });
    client.pause();
    await new Promise<void>((resolve, reject) => {
      client.once('error', reject);
      client.once('connect', () => {
        client.off('error', reject);
        resolve();
      });
    });
    return [client, await accepted];
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
