// Storms of failing connects and binds: each failure is a typed UvError
// delivered exactly once, and none leaves a handle or a descriptor behind.
// (test/handles/tcp.test.ts and the conformance suite check one refused
// connect and one EADDRINUSE each; this checks thousands, and counts fds.)
// Serial: the fd counts must not see another test's sockets.
import test from 'ava';
import { Loop, TCP, UvEventLoop, UvError, type Protocol } from 'asyncuv';
import { loopTest, waitFor } from '../helpers/loop-test.js';
import { closeAll, closedPort } from './tcp-peers.js';
import { fdCount } from './fd-table.js';

const kStorm = 2000;
// In flight at once: well under a default soft fd limit of 1024.
const kBatch = 200;

async function inBatches(n: number, one: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += kBatch) {
    await Promise.all(Array.from({ length: Math.min(kBatch, n - i) }, (_, k) => one(i + k)));
  }
}

loopTest.serial(
  '2,000 handle connects to a closed port: each callback once with ECONNREFUSED, no fd left',
  async (t, loop) => {
    const { port, release } = closedPort(loop);
    const fds = fdCount();
    const calls = new Array<number>(kStorm).fill(0);
    const codes = new Set<string>();
    await inBatches(kStorm, (i) => {
      const c = new TCP(loop);
      return new Promise<void>((resolve) =>
        c.connect('127.0.0.1', port, (err) => {
          calls[i]!++;
          codes.add(err instanceof UvError ? `${err.code}/${err.syscall}` : String(err));
          c.close(resolve);
        }),
      );
    });
    // A late second callback would show up here.
    await new Promise((r) => setTimeout(r, 50));
    t.true(calls.every((n) => n === 1));
    t.deepEqual([...codes], ['ECONNREFUSED/connect']);
    t.is(fdCount(), fds);
    await release();
  },
);

test.serial(
  '2,000 createConnection() to a closed port: each rejects once with UvError ECONNREFUSED, no handle or fd left',
  async (t) => {
    const uvloop = new Loop();
    const loop = new UvEventLoop(uvloop);
    try {
      const { port, release } = closedPort(uvloop);
      const fds = fdCount();
      let made = 0;
      const codes = new Map<string, number>();
      const factory = (): Protocol => ({ connectionMade: () => void made++ });
      await inBatches(kStorm, async () => {
        try {
          await loop.createConnection(factory, '127.0.0.1', port);
          codes.set('connected', (codes.get('connected') ?? 0) + 1);
        } catch (err) {
          const key = err instanceof UvError ? err.code : String(err);
          codes.set(key, (codes.get(key) ?? 0) + 1);
        }
      });
      t.deepEqual([...codes], [['ECONNREFUSED', kStorm]]);
      t.is(made, 0);
      t.true(await waitFor(() => Object.keys(uvloop.handleCounts()).length <= 3, 5000));
      t.is(fdCount(), fds);
      await release();
      // Only the event loop's own idle and timer remain.
      t.deepEqual(uvloop.handleCounts(), { idle: 1, timer: 1 });
      loop.close();
      t.true(await waitFor(() => Object.keys(uvloop.handleCounts()).length === 0, 5000));
    } finally {
      if (!loop.isClosed()) loop.close();
      uvloop.close();
    }
  },
);

test.serial(
  '500 createServer() on a port in use: each rejects with UvError EADDRINUSE, no handle or fd left',
  async (t) => {
    const uvloop = new Loop();
    const loop = new UvEventLoop(uvloop);
    try {
      const taken = new TCP(uvloop);
      taken.bind('127.0.0.1', 0);
      taken.listen(8, () => {});
      const port = taken.getsockname().port;
      const fds = fdCount();
      const codes = new Map<string, number>();
      for (let i = 0; i < 500; i++) {
        try {
          const s = await loop.createServer(() => ({}), '127.0.0.1', port);
          s.close();
          codes.set('listening', (codes.get('listening') ?? 0) + 1);
        } catch (err) {
          const key = err instanceof UvError ? `${err.code}/${err.syscall}` : String(err);
          codes.set(key, (codes.get(key) ?? 0) + 1);
        }
      }
      t.is(codes.size, 1, JSON.stringify([...codes]));
      const [key, n] = [...codes][0]!;
      t.regex(key, /^EADDRINUSE\//);
      t.is(n, 500);
      await closeAll(taken);
      t.true(await waitFor(() => Object.keys(uvloop.handleCounts()).length <= 2, 5000));
      t.deepEqual(uvloop.handleCounts(), { idle: 1, timer: 1 });
      t.is(fdCount(), fds - 1); // the taken listener is closed too
      loop.close();
      t.true(await waitFor(() => Object.keys(uvloop.handleCounts()).length === 0, 5000));
    } finally {
      if (!loop.isClosed()) loop.close();
      uvloop.close();
    }
  },
);

loopTest.serial(
  '500 handle bind+listen on a port in use: typed EADDRINUSE each time, no fd left',
  async (t, loop) => {
    const taken = new TCP(loop);
    taken.bind('127.0.0.1', 0);
    taken.listen(8, () => {});
    const port = taken.getsockname().port;
    const fds = fdCount();
    let typed = 0;
    for (let i = 0; i < 500; i++) {
      const s = new TCP(loop);
      try {
        // Linux reports the conflict at bind or, with SO_REUSEADDR, at listen.
        s.bind('127.0.0.1', port);
        s.listen(8, () => {});
      } catch (err) {
        if (err instanceof UvError && err.code === 'EADDRINUSE') typed++;
      }
      await closeAll(s);
    }
    t.is(typed, 500);
    t.is(fdCount(), fds);
    await closeAll(taken);
  },
);
