// Loop: run modes, the order of phases in one iteration, introspection,
// close() with live handles, and the re-entrancy guard.
import test from 'ava';
import { deferred, loopTest, waitFor, within } from '../helpers/loop-test.js';
import { Check, Idle, Loop, Prepare, Timer, UsageError } from '../../handles/index.js';

/** Starts a 0 ms timer, an Idle, a Prepare and a Check that log to `log`. */
function fourPhases(loop: Loop, log: string[]) {
  const timer = new Timer(loop);
  const idle = new Idle(loop);
  const prepare = new Prepare(loop);
  const check = new Check(loop);
  timer.start(() => log.push('timer'), 0);
  idle.start(() => log.push('idle'));
  prepare.start(() => log.push('prepare'));
  check.start(() => log.push('check'));
  return {
    timer,
    idle,
    prepare,
    check,
    closeAll: () => [timer, idle, prepare, check].forEach((h) => h.close()),
  };
}

loopTest('run("nowait"): idle, prepare, poll, check, then due timers', (t, loop) => {
  // libuv 1.46 runs timers at the end of an iteration; only a 'default' run
  // also runs them once before the first iteration.
  const log: string[] = [];
  const h = fourPhases(loop, log);
  t.true(loop.run('nowait'));
  t.deepEqual(log, ['idle', 'prepare', 'check', 'timer']);
  log.length = 0;
  t.true(loop.run('nowait'));
  t.deepEqual(log, ['idle', 'prepare', 'check'], 'a one-shot timer fires once');
  h.closeAll();
  loop.run();
});

loopTest('run("default"): due timers first, then whole iterations', (t, loop) => {
  const log: string[] = [];
  const h = fourPhases(loop, log);
  h.check.start(() => {
    log.push('check');
    if (log.filter((x) => x === 'check').length === 2) {
      h.idle.close(() => log.push('idle closed'));
      h.prepare.close();
      h.check.close();
    }
  });
  t.false(loop.run('default'));
  t.deepEqual(log, [
    'timer',
    'idle',
    'prepare',
    'check',
    'idle',
    'prepare',
    'check',
    'idle closed',
  ]);
  h.timer.close();
  loop.run();
});

loopTest('close callbacks run after check and before timers', (t, loop) => {
  const log: string[] = [];
  const h = fourPhases(loop, log);
  h.check.start(() => {
    log.push('check');
    h.check.close(() => log.push('check closed'));
  });
  loop.run('nowait');
  t.deepEqual(log, ['idle', 'prepare', 'check', 'check closed', 'timer']);
  h.closeAll();
  loop.run();
});

loopTest('embedded mode keeps the same order within each batch', async (t, loop) => {
  const log: string[] = [];
  const h = fourPhases(loop, log);
  const done = deferred();
  h.check.start(() => {
    log.push('check');
    if (log.filter((x) => x === 'check').length === 3) done.resolve();
  });
  await within(done.promise, 'three embedded iterations', 10_000);
  h.closeAll();
  t.deepEqual(log, [
    'idle',
    'prepare',
    'check',
    'timer',
    'idle',
    'prepare',
    'check',
    'idle',
    'prepare',
    'check',
  ]);
});

loopTest('run("once") blocks until a timer is due', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(() => fired++, 20);
  const start = Date.now();
  t.false(loop.run('once'), 'not alive after the only timer fired');
  t.true(Date.now() - start >= 15);
  t.is(fired, 1);
  timer.close();
});

loopTest('run("once") sleeps through the terminate watchdog until its timer is due', (t, loop) => {
  // A blocking run wakes every 100 ms to see whether the worker is being
  // terminated (native/loop_wrap.h, rule 7); such a wake-up calls nothing
  // back and does not end a run('once').
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(() => fired++, 350);
  const start = Date.now();
  t.false(loop.run('once'));
  t.true(Date.now() - start >= 340, `returned after ${Date.now() - start} ms`);
  t.is(fired, 1);
  timer.close();
});

loopTest('run() on a loop with nothing to do returns false at once', (t, loop) => {
  t.false(loop.alive);
  t.false(loop.run('default'));
  t.false(loop.run('once'));
  t.false(loop.run('nowait'));
});

loopTest('stop() makes a default run return', (t, loop) => {
  const timer = new Timer(loop);
  let fired = 0;
  timer.start(
    () => {
      if (++fired === 3) loop.stop();
    },
    1,
    1,
  );
  t.true(loop.run('default'), 'still alive: the timer repeats');
  t.is(fired, 3);
  timer.close();
});

loopTest('a bad run mode throws ERR_INVALID_ARG_VALUE', (t, loop) => {
  const error = t.throws(() => loop.run('forever' as never), { instanceOf: UsageError });
  t.is(error?.code, 'ERR_INVALID_ARG_VALUE');
});

loopTest('run() from a callback of the same loop throws ERR_LOOP_RUNNING', (t, loop) => {
  const timer = new Timer(loop);
  const codes: unknown[] = [];
  timer.start(() => {
    for (const call of [() => loop.run(), () => loop.run('nowait'), () => loop.close()]) {
      try {
        call();
        codes.push('no error');
      } catch (error) {
        codes.push((error as UsageError).code);
      }
    }
    t.true(loop.running);
  }, 0);
  loop.run();
  t.deepEqual(codes, ['ERR_LOOP_RUNNING', 'ERR_LOOP_RUNNING', 'ERR_LOOP_RUNNING']);
  t.false(loop.running);
  t.false(loop.closed);
  timer.close();
});

loopTest('run() and close() from an embedded callback throw ERR_LOOP_RUNNING', async (t, loop) => {
  const timer = new Timer(loop);
  const code = deferred<unknown>();
  timer.start(() => {
    const codes = [() => loop.run('nowait'), () => loop.close()].map((call) => {
      try {
        call();
        return 'no error';
      } catch (error) {
        return (error as UsageError).code;
      }
    });
    code.resolve(codes);
  }, 1);
  t.deepEqual(await within(code.promise, 'the timer', 10_000), [
    'ERR_LOOP_RUNNING',
    'ERR_LOOP_RUNNING',
  ]);
  t.false(loop.closed, 'the refused close() left the loop open');
  timer.close();
});

loopTest('a loop may run another loop from its callback', (t, loop) => {
  // Only re-entering the same loop is refused; nesting a different one is
  // how a callback waits for work on a private loop.
  const inner = new Loop();
  const innerTimer = new Timer(inner);
  const outerTimer = new Timer(loop);
  const log: string[] = [];
  innerTimer.start(() => log.push('inner'), 1);
  outerTimer.start(() => {
    log.push('outer');
    inner.run();
    log.push('outer done');
  }, 0);
  loop.run();
  t.deepEqual(log, ['outer', 'inner', 'outer done']);
  innerTimer.close();
  outerTimer.close();
  inner.close();
});

loopTest('alive follows referenced active handles', (t, loop) => {
  t.false(loop.alive);
  const timer = new Timer(loop);
  t.false(loop.alive, 'an inactive handle does not count');
  timer.start(() => {}, 10_000);
  t.true(loop.alive);
  timer.stop();
  t.false(loop.alive);
  timer.close();
  t.true(loop.alive, 'a closing handle keeps the loop alive until its close callback');
  loop.run();
  t.false(loop.alive);
});

loopTest('now() is cached until updateTime()', async (t, loop) => {
  loop.updateTime();
  const before = loop.now();
  t.true(Number.isInteger(before) && before >= 0);
  const start = Date.now();
  while (Date.now() - start < 20) {
    // Busy-wait: the cached time must not move on its own.
  }
  t.is(loop.now(), before);
  loop.updateTime();
  t.true(loop.now() - before >= 15, `advanced ${loop.now() - before} ms`);
});

loopTest('fileno() is the backend fd, distinct per loop', (t, loop) => {
  const other = new Loop();
  t.true(Number.isInteger(loop.fileno()) && loop.fileno() > 2);
  t.not(loop.fileno(), other.fileno());
  other.close();
});

loopTest('handles() lists the live handles, without closing ones', (t, loop) => {
  t.deepEqual(loop.handles(), []);
  const timer = new Timer(loop);
  const idle = new Idle(loop);
  const listed = loop.handles();
  t.is(listed.length, 2);
  t.true(listed.includes(timer));
  t.true(listed.includes(idle));
  t.deepEqual(loop.handleCounts(), { timer: 1, idle: 1 });
  idle.close();
  t.deepEqual(loop.handles(), [timer]);
  t.deepEqual(loop.handleCounts(), { timer: 1, idle: 1 }, 'counted until the close callback');
  loop.run();
  t.deepEqual(loop.handleCounts(), { timer: 1 });
  timer.close();
});

loopTest('an internal driver handle is never listed', (t, loop) => {
  // The keepalive prepare of the embedded driver lives on the private loop;
  // a fresh loop must look empty.
  t.deepEqual(loop.handles(), []);
  t.deepEqual(loop.handleCounts(), {});
});

test('close() with active handles runs their close callbacks and empties the loop', (t) => {
  const loop = new Loop();
  const timer = new Timer(loop);
  const idle = new Idle(loop);
  const closing = new Timer(loop);
  let closed = 0;
  timer.start(() => t.fail('must not fire'), 0);
  idle.start(() => t.fail('must not run'));
  closing.close(() => closed++);
  loop.close();
  t.is(closed, 1, 'the pending close callback ran inside close()');
  t.deepEqual(loop.handleCounts(), {});
  t.true(loop.closed);
  t.true(timer.closed);
  t.false(timer.active);
  t.false(loop.alive);
  t.deepEqual(loop.handles(), []);
});

loopTest(
  'in a blocking run, promise continuations wait until run() has returned and its caller yields',
  async (t, loop) => {
    const order: string[] = [];
    const a = new Timer(loop);
    const b = new Timer(loop);
    a.start(() => {
      order.push('a');
      void Promise.resolve().then(() => order.push('a: continuation'));
      queueMicrotask(() => order.push('a: microtask'));
    }, 0);
    b.start(() => order.push('b'), 0);
    loop.run();
    order.push('run() returned');
    t.deepEqual(
      order,
      ['a', 'b', 'run() returned'],
      'callbacks are plain calls: nothing between them',
    );
    await Promise.resolve();
    t.deepEqual(order, ['a', 'b', 'run() returned', 'a: continuation', 'a: microtask']);
    a.close();
    b.close();
  },
);

test('methods of a closed loop throw ERR_LOOP_CLOSED', (t) => {
  const loop = new Loop();
  loop.close();
  loop.close(); // a second close is a no-op
  for (const [what, call] of [
    ['run', () => loop.run()],
    ['now', () => loop.now()],
    ['updateTime', () => loop.updateTime()],
    ['fileno', () => loop.fileno()],
    ['new Timer', () => new Timer(loop)],
    ['new Idle', () => new Idle(loop)],
  ] as const) {
    const error = t.throws(call, { instanceOf: UsageError }, what);
    t.is(error?.code, 'ERR_LOOP_CLOSED', what);
  }
  // What answers rather than throws: the introspection, and the calls that
  // would end or stop the loop, which has already ended.
  t.deepEqual(loop.handles(), []);
  t.deepEqual(loop.handleCounts(), {});
  t.notThrows(() => loop.stop());
  t.true(loop.closed);
  t.false(loop.alive);
  t.false(loop.running);
});

test('handles of a closed loop throw ERR_HANDLE_CLOSED', (t) => {
  const loop = new Loop();
  const timer = new Timer(loop);
  timer.start(() => {}, 1000);
  loop.close();
  const error = t.throws(() => timer.start(() => {}, 1), { instanceOf: UsageError });
  t.is(error?.code, 'ERR_HANDLE_CLOSED');
  t.notThrows(() => timer.close(), 'close() stays a no-op');
});

test('Loop.default() is one loop per thread until closed', async (t) => {
  const loop = Loop.default();
  t.is(Loop.default(), loop);
  t.true(await waitFor(() => Object.keys(loop.handleCounts()).length === 0));
  loop.close();
  const fresh = Loop.default();
  t.not(fresh, loop);
  t.false(fresh.closed);
});
