// What the RESP example's tests share: commands in RESP, one exchange on a
// fresh connection, and the example served on a UvEventLoop of its own that
// is checked for live handles afterwards.
import type { ExecutionContext } from 'ava';
import net from 'node:net';
import { Loop } from '../../handles/index.js';
import { UvEventLoop } from '../../loop/index.js';
import { startRespServer } from '../../examples/resp-server/main.js';
import { assertNoHandlesAndClose } from '../helpers/loop-test.js';

/** A command as a RESP array of bulk strings. */
export function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

export type Where = net.NetConnectOpts;

/**
 * Sends `bytes` on a new connection; resolves with what came back until
 * `done` or the close, or after 5 s of waiting for either (marked so).
 */
export function exchange(
  where: Where,
  bytes: string,
  done?: (text: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(where, () => sock.write(bytes, 'latin1'));
    let got = '';
    const finish = (text: string): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(text);
    };
    const timer = setTimeout(() => finish(`${got}[still open after 5 s]`), 5000);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (done?.(got)) finish(got);
    });
    sock.on('end', () => finish(got));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Serves the example on 127.0.0.1 for `body`, then closes it and checks for live handles. */
export async function withRespServer(
  t: ExecutionContext,
  body: (port: number) => Promise<void>,
): Promise<void> {
  const uv = new Loop();
  const loop = new UvEventLoop(uv);
  const server = await startRespServer(loop, '127.0.0.1', 0);
  try {
    await body((server.sockets()[0] as { port: number }).port);
  } finally {
    server.close();
    await server.waitClosed();
    loop.close();
    await assertNoHandlesAndClose(t, uv);
  }
}
