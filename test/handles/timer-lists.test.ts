// Timers live in per-timeout lists driven by one uv timer per loop
// (native/timer_lists.h). What libuv guarantees must still hold: callbacks
// in order of due time, then of start, across every timeout; stop, restart
// and close take a timer out wherever it is; the loop is alive exactly while
// a ref'd Timer is started.
import { Idle, Loop, Timer } from '../../handles/index.js';
import { loopTest } from '../helpers/loop-test.js';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Spins for `ms` of wall time, so that updateTime() moves the loop's clock. */
function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

for (const seed of [1, 2, 3]) {
  loopTest(
    `timers of many timeouts fire by due time, then start order (seed ${seed})`,
    (t, loop) => {
      const next = random(seed);
      const timeouts = [0, 1, 2, 3, 5, 8];
      const expected: Array<{ id: number; due: number; seq: number }> = [];
      const fired: number[] = [];
      const timers: Timer[] = [];
      let seq = 0;
      for (let id = 0; id < 300; id++) {
        const timer = new Timer(loop);
        timers.push(timer);
        const timeout = timeouts[Math.floor(next() * timeouts.length)]!;
        timer.start(() => fired.push(id), timeout);
        expected[id] = { id, due: loop.now() + timeout, seq: seq++ };
        const roll = next();
        if (roll < 0.1) {
          // Restarted: a new due time and a new place in the start order.
          const again = timeouts[Math.floor(next() * timeouts.length)]!;
          const other = timers[Math.floor(next() * timers.length)]!;
          const otherId = timers.indexOf(other);
          other.start(() => fired.push(otherId), again);
          expected[otherId] = { id: otherId, due: loop.now() + again, seq: seq++ };
        } else if (roll < 0.2) {
          const other = timers[Math.floor(next() * timers.length)]!;
          other.stop();
          delete expected[timers.indexOf(other)];
        }
        if (next() < 0.05) {
          spin(1);
          loop.updateTime();
        }
      }
      loop.run();
      const order = expected
        .filter((e) => e !== undefined)
        .sort((a, b) => a.due - b.due || a.seq - b.seq)
        .map((e) => e.id);
      t.deepEqual(fired, order);
      for (const timer of timers) timer.close();
    },
  );
}

loopTest(
  'a repeating timer is re-started before its callback, after earlier due timers',
  (t, loop) => {
    const order: string[] = [];
    const repeating = new Timer(loop);
    const other = new Timer(loop);
    repeating.start(
      () => {
        order.push('repeat');
        if (order.length >= 4) repeating.stop();
      },
      2,
      2,
    );
    other.start(() => order.push('other'), 2);
    loop.run();
    // Same due time: start order, the repeating one first; its next run is
    // due 2 ms after the loop time of the phase, after `other`.
    t.deepEqual(order, ['repeat', 'other', 'repeat', 'repeat']);
    repeating.close();
    other.close();
  },
);

loopTest(
  'a timer stopped or closed by an earlier callback of the same phase does not fire',
  (t, loop) => {
    const fired: string[] = [];
    const a = new Timer(loop);
    const b = new Timer(loop);
    const c = new Timer(loop);
    const d = new Timer(loop);
    a.start(() => {
      fired.push('a');
      b.stop();
      c.close();
    }, 1);
    b.start(() => fired.push('b'), 1);
    c.start(() => fired.push('c'), 1);
    d.start(() => fired.push('d'), 1);
    loop.run();
    t.deepEqual(fired, ['a', 'd']);
    t.false(b.active);
    for (const timer of [a, b, d]) timer.close();
  },
);

loopTest("the loop is alive exactly while a ref'd Timer is started", (t, loop) => {
  const a = new Timer(loop);
  const b = new Timer(loop);
  t.false(loop.alive);
  a.start(() => {}, 10_000);
  b.start(() => {}, 20_000);
  b.unref();
  t.true(loop.alive);
  a.unref();
  t.false(loop.alive, "two unref'd timers");
  b.ref();
  t.true(loop.alive, "b ref'd again while started");
  b.stop();
  t.false(loop.alive, "the ref'd one stopped");
  b.start(() => {}, 5);
  t.true(loop.alive);
  b.close();
  loop.run('nowait'); // a closing handle keeps a loop alive until its close callback
  t.false(loop.alive, "the ref'd one closed");
  a.ref();
  t.true(loop.alive);
  a.stop();
  a.unref();
  a.start(() => {}, 1);
  t.false(loop.alive, "started while unref'd");
  a.close();
});

loopTest("an unref'd timer due with a ref'd one fires in the same run", (t, loop) => {
  const fired: string[] = [];
  const a = new Timer(loop);
  const b = new Timer(loop);
  a.unref();
  a.start(() => fired.push("unref'd"), 1);
  b.start(() => fired.push("ref'd"), 1);
  loop.run();
  t.deepEqual(fired, ["unref'd", "ref'd"]);
  a.close();
  b.close();
});

loopTest('timers run in the timers phase, after idle, as one uv timer each did', (t, loop) => {
  const order: string[] = [];
  const timers = [3, 1, 2].map((n) => {
    const timer = new Timer(loop);
    timer.start(() => order.push(`timer ${n}`), 0);
    return timer;
  });
  const idle = new Idle(loop);
  idle.start(() => order.push('idle'));
  loop.run('nowait');
  t.deepEqual(order, ['idle', 'timer 3', 'timer 1', 'timer 2']);
  idle.close();
  for (const timer of timers) timer.close();
});

loopTest("dueIn, repeat and again() keep libuv's answers", (t, loop) => {
  const timer = new Timer(loop);
  t.is(timer.dueIn, 0);
  t.throws(() => timer.again(), { code: 'EINVAL' });
  timer.start(() => {}, 5_000);
  t.true(timer.dueIn > 4_000 && timer.dueIn <= 5_000);
  timer.stop();
  t.true(timer.dueIn > 4_000, 'a stopped timer keeps its due time, as uv_timer_get_due_in');
  t.notThrows(() => timer.again(), 'again() without repeat does nothing once started');
  t.false(timer.active);
  timer.repeat = 7_000;
  timer.again();
  t.true(timer.active);
  t.true(timer.dueIn > 6_000 && timer.dueIn <= 7_000);
  t.is(timer.repeat, 7_000);
  timer.close();
});

loopTest('loop.close() closes started Timers of many timeouts; none fires', (t) => {
  const loop = new Loop();
  const closed: number[] = [];
  const timers = Array.from({ length: 50 }, (_, i) => {
    const timer = new Timer(loop);
    timer.start(() => t.fail('a timer fired'), 1 + (i % 7), i % 3);
    if (i % 5 === 0) timer.unref();
    return timer;
  });
  timers[0]!.close(() => closed.push(0));
  t.deepEqual(loop.handleCounts(), { timer: 50 });
  loop.close();
  t.deepEqual(closed, [0]);
  t.true(timers.every((timer) => timer.closed && !timer.active));
  // A new loop gets fresh lists.
  const fresh = new Loop();
  const timer = new Timer(fresh);
  let fired = 0;
  timer.start(() => fired++, 1);
  fresh.run();
  t.is(fired, 1);
  timer.close();
  fresh.run();
  t.deepEqual(fresh.handleCounts(), {});
  fresh.close();
});
