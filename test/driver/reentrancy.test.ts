// Callbacks that create more work during a run: new timers, new Asyncs,
// closes of other handles, many levels deep. uv_run is never re-entered
// (FINDINGS.md: that overflowed the stack); work started from a callback
// runs in a later iteration.
import { deferred, loopTest, within } from '../helpers/loop-test.js';
import { Async, Idle, Timer } from '../../handles/index.js';

const DEPTH = 1000;

loopTest(
  `a chain of ${DEPTH} timers, each started from the previous callback (blocking)`,
  (t, loop) => {
    let fired = 0;
    const timers: Timer[] = [];
    const next = (): void => {
      const timer = new Timer(loop);
      timers.push(timer);
      timer.start(() => {
        fired++;
        timer.close();
        if (fired < DEPTH) next();
      }, 0);
    };
    next();
    t.false(loop.run('default'));
    t.is(fired, DEPTH);
    t.is(timers.length, DEPTH);
    t.true(timers.every((timer) => timer.closed));
  },
);

loopTest(`a chain of ${DEPTH} timers started from callbacks (embedded)`, async (t, loop) => {
  let fired = 0;
  const done = deferred();
  const next = (): void => {
    const timer = new Timer(loop);
    timer.start(() => {
      timer.close();
      if (++fired < DEPTH) next();
      else done.resolve();
    }, 0);
  };
  next();
  // Each link waits 1 ms (0 from a timer callback, as setTimeout): about a
  // second when idle, many on a loaded machine.
  await within(done.promise, `${DEPTH} chained timers`, 45_000);
  t.is(fired, DEPTH);
});

loopTest('one callback starting 1000 timers: all fire, in start order', (t, loop) => {
  const order: number[] = [];
  const timers: Timer[] = [];
  const first = new Timer(loop);
  first.start(() => {
    for (let i = 0; i < 1000; i++) {
      const timer = new Timer(loop);
      timer.start(() => order.push(i), 1);
      timers.push(timer);
    }
  }, 0);
  loop.run();
  t.is(order.length, 1000);
  t.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
  );
  first.close();
  for (const timer of timers) timer.close();
  loop.run();
});

loopTest('Asyncs created and sent from callbacks, many levels deep', async (t, loop) => {
  let woken = 0;
  const done = deferred();
  const spawn = (level: number): void => {
    const async = new Async(loop, () => {
      woken++;
      async.close();
      if (level < 200) spawn(level + 1);
      else done.resolve();
    });
    async.send();
  };
  const root = new Timer(loop);
  root.start(() => spawn(1), 0);
  await within(done.promise, 'the Async chain', 10_000);
  t.is(woken, 200);
  root.close();
});

loopTest('a timer closed by an earlier callback of the same iteration never fires', (t, loop) => {
  const a = new Timer(loop);
  const b = new Timer(loop);
  const log: string[] = [];
  a.start(() => {
    log.push('a');
    b.close(() => log.push('b closed'));
  }, 1);
  b.start(() => log.push('b'), 1);
  loop.run();
  t.deepEqual(log, ['a', 'b closed']);
  a.close();
  loop.run();
});

loopTest('starting and stopping other handles from an Idle callback', (t, loop) => {
  const idle = new Idle(loop);
  const timer = new Timer(loop);
  let idles = 0;
  let fired = 0;
  idle.start(() => {
    idles++;
    // Restart the timer on every iteration; it must never fire while the
    // idle keeps pushing it back, then fire once the idle stops. (A long
    // timeout while idling: a stalled machine can pause any short one.)
    timer.start(() => fired++, idles === 50 ? 1 : 60_000);
    if (idles === 50) idle.stop();
  });
  loop.run();
  t.is(idles, 50);
  t.is(fired, 1);
  idle.close();
  timer.close();
  loop.run();
});
