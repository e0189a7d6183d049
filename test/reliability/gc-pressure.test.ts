// Thousands of short-lived handles of every kind, made and dropped under
// repeated global.gc() (ava runs with --expose-gc): some closed explicitly,
// some started and closed from their own callback, most simply dropped
// (inactive, so their finalizers close them). No crash, and the loop ends
// with zero live handles. (test/driver/gc.test.ts checks the single cases:
// dropped timers and idles, a dropped Async; this is the churn.)
import test from 'ava';
import {
  Async,
  Check,
  Idle,
  Pipe,
  Prepare,
  Signal,
  TCP,
  Timer,
  UDP,
  UvEventLoop,
  type Loop,
} from 'asyncuv';
import { loopTest, waitFor, deferred, within } from '../helpers/loop-test.js';
import { Loop as UvLoop } from '../../handles/index.js';
import { fdDiff, fdTable } from './fd-table.js';

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with --expose-gc');
  collect();
}

/** One round: `n` handles of each kind, each dropped one way or another. */
async function churn(loop: Loop, n: number): Promise<void> {
  const fired: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const way = i % 4;
    // Dropped without close: inactive, so the GC may close them.
    if (way === 0) {
      new Timer(loop);
      new Idle(loop);
      new Check(loop);
      new Prepare(loop);
      new TCP(loop);
      new UDP(loop);
      new Pipe(loop);
      new Signal(loop);
    } else if (way === 1) {
      // Closed explicitly right away.
      for (const h of [
        new Timer(loop),
        new TCP(loop),
        new UDP(loop),
        new Pipe(loop),
        new Async(loop, () => {}),
      ])
        h.close();
    } else if (way === 2) {
      // Started, then closed from its own callback after the reference is gone.
      const done = deferred();
      fired.push(done.promise);
      const timer = new Timer(loop);
      timer.start(() => timer.close(() => done.resolve()), i % 7);
    } else {
      // Used a little (bound sockets), then dropped without close: the
      // finalizer must close the fd too.
      const udp = new UDP(loop);
      udp.bind('127.0.0.1', 0);
      const tcp = new TCP(loop);
      tcp.bind('127.0.0.1', 0);
    }
    if (i % 250 === 0) gc();
  }
  await within(Promise.all(fired), 'the started timers', 20_000);
}

// Serial: the fd count must not see the other test's sockets.
loopTest.serial(
  '10,000 short-lived handles of eight kinds under gc(): no crash, zero live handles and no fd left at the end',
  async (t, loop) => {
    // libuv opens one fd per loop at its first stream (/dev/null, kept for
    // its EMFILE trick) and closes it with the loop: open it before counting.
    new TCP(loop).close();
    const fds = fdTable();
    for (let round = 0; round < 4; round++) {
      await churn(loop, 625);
      gc();
    }
    // Finalizers run in later ticks: collect until everything dropped is closed.
    const drained = await waitFor(
      () => {
        gc();
        return Object.keys(loop.handleCounts()).length === 0;
      },
      20_000,
      10,
    );
    t.true(drained, JSON.stringify(loop.handleCounts()));
    // The sockets the finalizers closed are gone from the fd table too.
    t.deepEqual(fdDiff(fds, fdTable()), []);
  },
);

test.serial(
  '2,000 UvEventLoop connections opened, dropped after close(), under gc(): zero live handles',
  async (t) => {
    const uvloop = new UvLoop();
    const loop = new UvEventLoop(uvloop);
    try {
      const server = await loop.createServer(
        () => ({ eofReceived: () => undefined }),
        '127.0.0.1',
        0,
      );
      const port = (server.sockets()[0] as { port: number }).port;
      let lost = 0;
      for (let i = 0; i < 2000; i++) {
        const [transport] = await loop.createConnection(
          () => ({ connectionLost: () => void lost++ }),
          '127.0.0.1',
          port,
        );
        transport.write('x');
        transport.close();
        if (i % 100 === 0) gc();
      }
      t.true(await waitFor(() => lost === 2000, 10_000));
      server.close();
      await server.waitClosed();
      loop.close();
      t.true(
        await waitFor(
          () => {
            gc();
            return Object.keys(uvloop.handleCounts()).length === 0;
          },
          10_000,
          10,
        ),
        JSON.stringify(uvloop.handleCounts()),
      );
      t.is(lost, 2000);
    } finally {
      if (!loop.isClosed()) loop.close();
      uvloop.close();
    }
  },
);
