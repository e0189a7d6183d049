// A Timer owns no uv handle (native/timer_lists.h rules 7-8): its loop's
// Timer lists list it, count it and run its close callback. What a
// uv_timer_t gave must still hold: close callbacks in libuv's order among
// other handles' (the closing phase runs the handles closed before it, last
// closed first), listing and counting in every state, loop.close() and
// loop.alive with Timers in every state.
import test from 'ava';
import { Check, Idle, Loop, Timer, type Handle } from '../../handles/index.js';
import { loopTest } from '../helpers/loop-test.js';

type Kind = 'timer' | 'idle' | 'check';

function make(loop: Loop, kind: Kind): Handle {
  if (kind === 'timer') return new Timer(loop);
  if (kind === 'idle') return new Idle(loop);
  return new Check(loop);
}

/**
 * Closes handles of the given kinds in that order, each with a callback
 * that records its index, runs one pass and returns the order the callbacks
 * ran in.
 */
function closeOrder(loop: Loop, kinds: Kind[]): number[] {
  const order: number[] = [];
  const handles = kinds.map((kind) => make(loop, kind));
  handles.forEach((handle, i) => handle.close(() => order.push(i)));
  loop.run('nowait');
  return order;
}

loopTest(
  'close callbacks of Timers keep their place among other handles, last closed first',
  (t, loop) => {
    const kinds: Kind[] = ['timer', 'idle', 'timer', 'timer', 'check', 'timer', 'idle', 'timer'];
    const order = closeOrder(loop, kinds);
    t.deepEqual(order, [7, 6, 5, 4, 3, 2, 1, 0]);
    // The same positions with uv handles only: libuv's own order.
    const reference = closeOrder(
      loop,
      kinds.map((kind) => (kind === 'timer' ? 'idle' : kind)),
    );
    t.deepEqual(order, reference);
  },
);

loopTest('Timers closed from a close callback close in the next pass, in order', (t, loop) => {
  const order: string[] = [];
  const first = new Timer(loop);
  const later = [new Timer(loop), new Idle(loop), new Timer(loop)];
  first.close(() => {
    order.push('first');
    later[0]!.close(() => order.push('timer a'));
    later[1]!.close(() => order.push('idle'));
    later[2]!.close(() => order.push('timer b'));
    t.deepEqual(loop.handleCounts(), { timer: 2, idle: 1 }, 'counted until their callbacks');
  });
  loop.run('nowait');
  t.deepEqual(order, ['first']);
  t.true(loop.alive, 'closing Timers keep the loop alive');
  loop.run('nowait');
  t.deepEqual(order, ['first', 'timer b', 'idle', 'timer a']);
  t.false(loop.alive);
});

loopTest('a closing Timer keeps the loop alive until its close callback', (t, loop) => {
  const timer = new Timer(loop);
  t.false(loop.alive, 'an idle Timer does not');
  let closed = 0;
  timer.close(() => closed++);
  t.true(loop.alive);
  t.is(closed, 0, 'not inside close()');
  t.false(loop.run('nowait'));
  t.is(closed, 1);
  t.false(loop.alive);
});

loopTest('Timers are listed while open and counted until their close callback', (t, loop) => {
  const started = new Timer(loop);
  const stopped = new Timer(loop);
  const fresh = new Timer(loop);
  const closing = new Timer(loop);
  const unrefd = new Timer(loop);
  const idle = new Idle(loop);
  started.start(() => t.fail('must not fire'), 60_000);
  stopped.start(() => t.fail('must not fire'), 60_000);
  stopped.stop();
  unrefd.start(() => t.fail('must not fire'), 60_000);
  unrefd.unref();
  closing.start(() => t.fail('must not fire'), 1);
  closing.close();
  const listed = loop.handles();
  t.is(listed.length, 5);
  for (const handle of [started, stopped, fresh, unrefd, idle]) t.true(listed.includes(handle));
  t.false(listed.includes(closing), 'a closing Timer is not listed');
  t.is(listed[0], idle, 'Timers are listed after the other handles (the Idle was made last)');
  t.deepEqual(loop.handleCounts(), { timer: 5, idle: 1 });
  loop.run('nowait');
  t.deepEqual(loop.handleCounts(), { timer: 4, idle: 1 }, 'the closing one counted out');
  for (const handle of listed) handle.close();
  t.deepEqual(loop.handles(), []);
  t.deepEqual(loop.handleCounts(), { timer: 4, idle: 1 }, 'counted until the callbacks');
  loop.run('nowait');
  t.deepEqual(loop.handleCounts(), {});
});

test('loop.close() with Timers in every state', (t) => {
  const loop = new Loop();
  const events: string[] = [];
  const fresh = new Timer(loop);
  const started = new Timer(loop);
  started.start(() => t.fail('must not fire'), 60_000, 5);
  const unrefd = new Timer(loop);
  unrefd.start(() => t.fail('must not fire'), 60_000);
  unrefd.unref();
  const stopped = new Timer(loop);
  stopped.start(() => t.fail('must not fire'), 1);
  stopped.stop();
  const fired = new Timer(loop);
  fired.start(() => events.push('fired'), 0);
  loop.run('nowait');
  const closed = new Timer(loop);
  closed.close(() => events.push('closed'));
  loop.run('nowait');
  const closing = new Timer(loop);
  closing.start(() => t.fail('must not fire'), 0);
  closing.close(() => events.push('closing'));
  const idle = new Idle(loop);
  idle.close(() => events.push('idle'));
  t.deepEqual(events, ['fired', 'closed']);
  t.deepEqual(loop.handleCounts(), { timer: 6, idle: 1 });
  t.true(loop.alive);
  loop.close();
  t.deepEqual(events, ['fired', 'closed', 'idle', 'closing'], 'pending closes ran, in order');
  t.deepEqual(loop.handleCounts(), {});
  t.deepEqual(loop.handles(), []);
  t.false(loop.alive);
  for (const timer of [fresh, started, unrefd, stopped, fired, closed, closing]) {
    t.true(timer.closed);
    t.false(timer.active);
    t.throws(() => timer.hasRef(), { code: 'ERR_HANDLE_CLOSED' });
    t.notThrows(() => timer.close(() => t.fail('a second close calls nothing')));
  }
});

loopTest(
  'a callback that stops or closes Timers due in the same phase: they do not fire',
  (t, loop) => {
    const fired: string[] = [];
    const [a, b, c, d] = [0, 1, 2, 3].map(() => new Timer(loop)) as [Timer, Timer, Timer, Timer];
    a.start(() => {
      fired.push('a');
      b.stop();
      c.close();
      a.start(() => fired.push('a again'), 0);
    }, 1);
    b.start(() => fired.push('b'), 1);
    c.start(() => fired.push('c'), 1);
    d.start(() => fired.push('d'), 1);
    loop.run();
    t.deepEqual(fired, ['a', 'd', 'a again']);
    for (const timer of [a, b, d]) timer.close();
  },
);
