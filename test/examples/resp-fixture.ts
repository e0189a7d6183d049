// What the RESP example's tests share: commands in RESP, one exchange on a
// fresh connection, the example served on either loop of its own that is
// checked for live handles afterwards, and a real redis-server to compare with.
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeEventLoop } from '../../adapters/index.js';
import { Loop } from '../../handles/index.js';
import { type AbstractEventLoop, UvEventLoop } from '../../loop/index.js';
import { startRespServer } from '../../examples/resp-server/main.js';
import { waitFor } from '../helpers/loop-test.js';

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

/** The two loops the example runs on, by name. */
export const respLoops: Record<string, () => { loop: AbstractEventLoop; uvloop?: Loop }> = {
  UvEventLoop: () => {
    const uvloop = new Loop();
    return { loop: new UvEventLoop(uvloop), uvloop };
  },
  NodeEventLoop: () => ({ loop: new NodeEventLoop() }),
};

/** Serves the example on 127.0.0.1 on a UvEventLoop for `body`, then checks for live handles. */
export function withRespServer(
  t: ExecutionContext,
  body: (port: number) => Promise<void>,
): Promise<void> {
  return withRespServerOn(t, respLoops['UvEventLoop']!, body);
}

/**
 * Serves the example on 127.0.0.1 on the loop `make` gives for `body`, then
 * closes it and checks that the loop (and its libuv Loop) has nothing left open.
 */
export async function withRespServerOn(
  t: ExecutionContext,
  make: () => { loop: AbstractEventLoop; uvloop?: Loop },
  body: (port: number) => Promise<void>,
): Promise<void> {
  const { loop, uvloop } = make();
  const server = await startRespServer(loop, '127.0.0.1', 0);
  try {
    await body(server.sockets()[0]!.port);
  } finally {
    server.close();
    await server.waitClosed();
    // Before close(), which would release what is left: the clients quit.
    const live = (): object => loop.liveResources();
    t.true(await waitFor(() => Object.keys(live()).length === 0), JSON.stringify(live()));
    loop.close();
  }
  if (uvloop !== undefined) {
    const handles = (): object => uvloop.handleCounts();
    t.true(await waitFor(() => Object.keys(handles()).length === 0), JSON.stringify(handles()));
    uvloop.close();
  }
}

/** A redis-server of its own, on a Unix socket in a fresh directory, for `body`. */
export async function withRedisServer<T>(body: (where: Where) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-redis-'));
  const path = join(dir, 'redis.sock');
  const args = ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no'];
  const redis = spawn('redis-server', [...args, '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => redis.once('exit', resolve));
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await exchange({ path }, 'PING\r\n', (s) => s.endsWith('\r\n'))) === '+PONG\r\n')
          break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return await body({ path });
  } finally {
    redis.kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
