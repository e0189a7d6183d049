// Timer: one-shot, repeat, again(), stop and close from callbacks, misuse.
import { loopTest, waitFor } from '../helpers/loop-test.js';
import test from 'ava';
import { Loop, Timer, UsageError, type UsageErrorCode } from '../../handles/index.js';

loopTest('a one-shot timer fires once in blocking mode', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(() => fired++, 1);
  t.true(timer.active);
  t.false(loop.run('default'), 'run returns false once nothing is left');
  t.is(fired, 1);
  t.false(timer.active);
  timer.close();
});

loopTest('a one-shot timer fires once in embedded mode', async (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(() => fired++, 5);
  t.true(await waitFor(() => fired === 1));
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.is(fired, 1);
  timer.close();
});

loopTest('the callback receives the timer', (t, loop) => {
  const timer = new Timer(loop);
  let received: Timer | undefined;
  timer.start((h) => (received = h), 0);
  loop.run();
  t.is(received, timer);
  timer.close();
});

loopTest('a timer does not fire before its timeout', (t, loop) => {
  const timer = new Timer(loop);
  let at = 0;
  const start = Date.now();
  timer.start(() => (at = Date.now()), 30);
  loop.run();
  t.true(at - start >= 25, `fired after ${at - start} ms`);
  timer.close();
});

loopTest('a timer started on a loop left idle waits its whole timeout', async (t, loop) => {
  // The loop runs no pass while it has nothing to do, so the time it last
  // cached is old here; a start from outside its callbacks counts from now.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const timer = new Timer(loop);
  const start = performance.now();
  let firedAfter = -1;
  timer.start(() => (firedAfter = performance.now() - start), 200);
  t.true(timer.dueIn >= 199, `due in ${timer.dueIn} ms`);
  t.true(await waitFor(() => firedAfter >= 0, 10_000), 'the timer fired');
  t.true(firedAfter >= 199, `fired after ${firedAfter.toFixed(1)} ms`);
  timer.close();
});

loopTest('Timers started in one job share the time; the next job renews it', async (t, loop) => {
  const [a, b, c] = [new Timer(loop), new Timer(loop), new Timer(loop)];
  const fired: string[] = [];
  a.start(() => fired.push('a'), 40);
  const spinUntil = performance.now() + 10;
  while (performance.now() < spinUntil);
  b.start(() => fired.push('b'), 40);
  t.is(a.dueIn, b.dueIn, 'started in one job with one timeout: due together');
  await new Promise((resolve) => setTimeout(resolve, 15));
  c.start(() => fired.push('c'), 40);
  t.true(c.dueIn - a.dueIn >= 10, `a due in ${a.dueIn} ms, c in ${c.dueIn} ms`);
  t.true(await waitFor(() => fired.length === 3, 10_000));
  t.deepEqual(fired, ['a', 'b', 'c']);
  for (const timer of [a, b, c]) timer.close();
});

loopTest(
  'inside a callback of the loop, a timeout counts from the time the pass began',
  (t, loop) => {
    // As libuv: the loop's time is cached per pass, and updateTime() renews it.
    const outer = new Timer(loop);
    const inner = new Timer(loop);
    let cachedDue = -1;
    let renewedDue = -1;
    outer.start(() => {
      const spinUntil = performance.now() + 30;
      while (performance.now() < spinUntil);
      inner.start(() => {}, 100);
      cachedDue = inner.dueIn;
      loop.updateTime();
      renewedDue = inner.dueIn;
      inner.stop();
    }, 0);
    loop.run();
    t.true(cachedDue >= 99, `due in ${cachedDue} ms by the pass's time`);
    t.true(renewedDue <= 75, `due in ${renewedDue} ms once the time is renewed`);
    outer.close();
    inner.close();
  },
);

loopTest('timers with the same timeout fire in start order', (t, loop) => {
  const order: number[] = [];
  const timers = [0, 1, 2, 3].map((i) => {
    const timer = new Timer(loop);
    timer.start(() => order.push(i), 2);
    return timer;
  });
  loop.run();
  t.deepEqual(order, [0, 1, 2, 3]);
  for (const timer of timers) timer.close();
});

loopTest('a repeating timer fires until stopped', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(
    () => {
      if (++fired === 5) timer.stop();
    },
    1,
    1,
  );
  t.is(timer.repeat, 1);
  loop.run();
  t.is(fired, 5);
  t.false(timer.active);
  timer.close();
});

loopTest('repeat set inside a one-shot callback does not re-arm it', (t, loop) => {
  // libuv re-arms (uv_timer_again) before calling the callback, so a repeat
  // set from the callback only counts from the next start() or again().
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(() => {
    fired++;
    timer.repeat = 2;
  }, 1);
  t.is(timer.repeat, 0);
  loop.run();
  t.is(fired, 1);
  t.is(timer.repeat, 2);
  t.false(timer.active);
  timer.again();
  t.true(timer.active, 'again() uses the new repeat');
  timer.close();
});

loopTest('again() restarts a repeating timer with its repeat', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(() => fired++, 10_000, 5);
  t.true(timer.dueIn > 5_000);
  timer.again();
  t.true(timer.dueIn <= 5, `due in ${timer.dueIn} ms after again()`);
  const stopper = new Timer(loop);
  stopper.start(() => timer.stop(), 40);
  loop.run();
  t.true(fired >= 2, `fired ${fired} times`);
  timer.close();
  stopper.close();
});

loopTest('again() on a timer never started throws EINVAL', (t, loop) => {
  const timer = new Timer(loop);
  const error = t.throws(() => timer.again());
  t.is((error as { code?: string }).code, 'EINVAL');
  timer.close();
});

loopTest(
  'again() on a one-shot timer does nothing; on a repeating one it restarts it',
  (t, loop) => {
    // libuv's rule (uv_timer_again): EINVAL only for a Timer never started;
    // with no repeat there is nothing to restart, and the pending call stays.
    const oneShot = new Timer(loop);
    let fired = 0;
    oneShot.start(() => fired++, 10_000);
    t.notThrows(() => oneShot.again());
    t.true(oneShot.active, 'still started');
    t.true(oneShot.dueIn > 5_000, `still due in ${oneShot.dueIn} ms, not restarted with 0`);
    oneShot.stop();
    t.notThrows(() => oneShot.again(), 'a stopped one-shot: still nothing to restart');
    t.false(oneShot.active);
    const repeating = new Timer(loop);
    repeating.start(() => fired++, 10_000, 20);
    repeating.again();
    t.true(repeating.dueIn <= 20, `restarted with its repeat: due in ${repeating.dueIn} ms`);
    repeating.close();
    oneShot.close();
    t.is(fired, 0);
  },
);

loopTest('start() on an active timer restarts it', (t, loop) => {
  const timer = new Timer(loop);
  const calls: string[] = [];
  timer.start(() => calls.push('first'), 10_000);
  timer.start(() => calls.push('second'), 1);
  loop.run();
  t.deepEqual(calls, ['second']);
  timer.close();
});

loopTest('stop() inside the callback of a repeating timer', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(
    (h) => {
      fired++;
      h.stop();
    },
    1,
    1,
  );
  loop.run();
  t.is(fired, 1);
  t.false(timer.active);
  t.false(timer.closed);
  timer.close();
});

loopTest('close() inside the callback', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  let closed = 0;
  timer.start(
    () => {
      fired++;
      timer.close(() => closed++);
      t.true(timer.closed);
    },
    1,
    1,
  );
  loop.run();
  t.is(fired, 1);
  t.is(closed, 1);
});

loopTest('close() twice runs the first callback exactly once', (t, loop) => {
  const timer = new Timer(loop);
  let first = 0;
  let second = 0;
  timer.close(() => first++);
  timer.close(() => second++);
  t.true(timer.closed);
  loop.run();
  t.is(first, 1);
  t.is(second, 0);
});

loopTest('the close callback runs after close() returns, not inside it', (t, loop) => {
  const timer = new Timer(loop);
  let closed = 0;
  timer.close(() => closed++);
  t.is(closed, 0);
  loop.run('nowait');
  t.is(closed, 1);
});

loopTest('a timer closed while active never fires', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(() => fired++, 0);
  timer.close();
  loop.run();
  t.is(fired, 0);
});

loopTest('methods of a closed timer throw ERR_HANDLE_CLOSED', (t, loop) => {
  const timer = new Timer(loop);
  timer.close();
  const calls: Array<[string, () => unknown]> = [
    ['start', () => timer.start(() => {}, 1)],
    ['stop', () => timer.stop()],
    ['again', () => timer.again()],
    ['repeat', () => timer.repeat],
    ['set repeat', () => (timer.repeat = 1)],
    ['dueIn', () => timer.dueIn],
    ['ref', () => timer.ref()],
    ['unref', () => timer.unref()],
  ];
  for (const [name, call] of calls) {
    const error = t.throws(call, { instanceOf: UsageError }, name);
    t.is(error?.code, 'ERR_HANDLE_CLOSED', name);
  }
  t.false(timer.active);
  t.throws(() => timer.hasRef(), { code: 'ERR_HANDLE_CLOSED' });
  loop.run();
});

loopTest('bad timer arguments throw typed errors', (t, loop) => {
  const timer = new Timer(loop);
  const start = timer.start.bind(timer) as (...args: unknown[]) => void;
  const cases: Array<[unknown[], UsageErrorCode]> = [
    [[undefined, 1], 'ERR_INVALID_ARG_TYPE'],
    [['not a function', 1], 'ERR_INVALID_ARG_TYPE'],
    [[() => {}, '10'], 'ERR_INVALID_ARG_TYPE'],
    [[() => {}, undefined], 'ERR_INVALID_ARG_TYPE'],
    [[() => {}, 10n], 'ERR_INVALID_ARG_TYPE'],
    [[() => {}, -1], 'ERR_OUT_OF_RANGE'],
    [[() => {}, Number.NaN], 'ERR_OUT_OF_RANGE'],
    [[() => {}, Number.POSITIVE_INFINITY], 'ERR_OUT_OF_RANGE'],
    [[() => {}, 1.5], 'ERR_OUT_OF_RANGE'],
    [[() => {}, 1, -1], 'ERR_OUT_OF_RANGE'],
    [[() => {}, 1, 'x'], 'ERR_INVALID_ARG_TYPE'],
  ];
  for (const [args, code] of cases) {
    const error = t.throws(() => start(...args), { instanceOf: UsageError }, String(args));
    t.is(error?.code, code, String(args));
  }
  t.false(timer.active, 'a rejected start() leaves the timer stopped');
  const setRepeat = t.throws(() => (timer.repeat = -5), { instanceOf: UsageError });
  t.is(setRepeat?.code, 'ERR_OUT_OF_RANGE');
  timer.close();
});

loopTest('the loop argument must be a Loop', (t) => {
  const error = t.throws(() => new Timer({} as never), { instanceOf: UsageError });
  t.is(error?.code, 'ERR_INVALID_ARG_TYPE');
});

loopTest('ref(), unref() and hasRef()', (t, loop) => {
  const timer = new Timer(loop);
  t.true(timer.hasRef());
  timer.start(() => {}, 10_000);
  t.true(loop.alive);
  timer.unref();
  t.false(timer.hasRef());
  t.false(loop.alive, "an unref'd timer does not keep the loop alive");
  t.false(loop.run(), "run() returns at once with only unref'd handles");
  timer.ref();
  t.true(timer.hasRef());
  t.true(loop.alive);
  timer.close();
});

test('the default loop is used when no loop is given', async (t) => {
  const timer = new Timer();
  t.is(timer.loop, Loop.default());
  let fired = 0;
  timer.start(() => fired++, 1);
  t.true(await waitFor(() => fired === 1), 'embedded default loop runs without run()');
  timer.close();
  t.true(await waitFor(() => Object.keys(Loop.default().handleCounts()).length === 0));
});
