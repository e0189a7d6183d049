// Timer's native half is an id (a slot's index and generation) in a
// per-thread table (native/timer_wrap.cc): a closed or collected Timer must
// never reach another Timer, even once its slot is reused.
import test from 'ava';
import { loopTest, until, waitFor } from '../helpers/loop-test.js';
import { binding } from '../../handles/binding.js';
import { Loop, Timer, UsageError } from '../../handles/index.js';
import { kNative } from '../../handles/internal.js';
import type { TimerFunctions, TimerNative } from '../../handles/timer-native.js';

const native = binding.timer as TimerFunctions;
const slotOf = (timer: Timer): number => (timer[kNative] as TimerNative).slot;
/** The slot's index: an id is index + generation * 2^24 (native/timer_wrap.cc rule 2). */
const indexOf = (timer: Timer): number => slotOf(timer) % 2 ** 24;
const gc = (globalThis as { gc?: () => void }).gc;
const UV_EBADF = binding.errors().EBADF!;

/** gc() and a few turns of Node's loop, so that queued finalizers run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

loopTest('a closed Timer keeps its slot: new Timers get other slots', (t, loop) => {
  const closed = new Timer(loop);
  closed.close();
  const fresh = Array.from({ length: 50 }, () => new Timer(loop));
  t.false(
    fresh.some((timer) => slotOf(timer) === slotOf(closed)),
    'no new Timer shares the slot of a closed Timer still referenced',
  );
  for (const timer of fresh) timer.close();
});

loopTest('a closed Timer throws and does not touch a new Timer', async (t, loop) => {
  const closed = new Timer(loop);
  closed.start(() => t.fail('a closed timer fired'), 1);
  closed.close();
  let fired = 0;
  const live = new Timer(loop);
  live.start(() => fired++, 1, 1);
  for (const call of [
    () => closed.start(() => {}, 1),
    () => closed.stop(),
    () => closed.again(),
    () => (closed.repeat = 0),
  ]) {
    const error = t.throws(call, { instanceOf: UsageError });
    t.is(error?.code, 'ERR_HANDLE_CLOSED');
  }
  closed.close();
  t.false(closed.active);
  t.true(live.active, 'the live timer is still started');
  t.is(live.repeat, 1);
  await until(() => fired >= 2, 'the live timer firing twice');
  live.close();
});

loopTest(
  'the native functions give EBADF for a closed slot and for slot numbers no Timer has',
  (t, loop) => {
    const timer = new Timer(loop);
    const slot = slotOf(timer);
    timer.close();
    for (const bad of [slot, -1, 2 ** 32, 1e9, 0.5, Number.NaN, 'x', undefined, {}]) {
      const s = bad as number;
      t.is(native.start(s, 1, 0), UV_EBADF, `start(${String(bad)})`);
      t.is(native.stop(s), UV_EBADF, `stop(${String(bad)})`);
      t.is(native.again(s), UV_EBADF);
      t.is(native.getRepeat(s), UV_EBADF);
      t.is(native.setRepeat(s, 1), UV_EBADF);
      t.is(native.getDueIn(s), UV_EBADF);
      t.is(native.ref(s), UV_EBADF);
      t.is(native.unref(s), UV_EBADF);
      t.is(native.fileno(s), UV_EBADF);
      t.false(native.hasRef(s));
      t.false(native.isActive(s));
      t.notThrows(() => native.close(s, false));
    }
    t.is(native.create(loop[kNative], undefined as never), binding.errors().EINVAL!);
  },
);

test('slots of closed Timers are reused; the table does not grow with each Timer', async (t) => {
  t.truthy(gc, 'ava runs with --expose-gc');
  const loop = new Loop();
  const highest = (): number => {
    const timers = Array.from({ length: 200 }, () => new Timer(loop));
    const max = Math.max(...timers.map(indexOf));
    for (const timer of timers) timer.close();
    return max;
  };
  const first = highest();
  let later = 0;
  for (let round = 0; round < 5; round++) {
    await until(() => Object.keys(loop.handleCounts()).length === 0, 'the closes');
    await collect();
    later = Math.max(later, highest());
  }
  // Each round's 200 Timers fit in the slots the earlier rounds freed; a
  // table that never reused slots would reach 6 * 200 here.
  t.true(later < first + 400, `highest index ${later} after 5 rounds, ${first} in the first`);
  await until(() => Object.keys(loop.handleCounts()).length === 0, 'the closes');
  loop.close();
});

loopTest(
  'a one-shot Timer closed in its own callback, with and without a close callback',
  async (t, loop) => {
    let closes = 0;
    const seen: boolean[] = [];
    for (const withCallback of [false, true]) {
      const timer = new Timer(loop);
      timer.start((h) => {
        t.false(h.active, 'a fired one-shot timer is inactive in its callback');
        if (withCallback) h.close(() => closes++);
        else h.close();
        seen.push(h.closed);
        t.throws(() => h.start(() => {}, 1), { instanceOf: UsageError });
      }, 1);
    }
    await until(() => seen.length === 2 && closes === 1, 'both callbacks and one close callback');
    t.deepEqual(seen, [true, true]);
    t.is(closes, 1);
  },
);

loopTest(
  "a Timer closed from another Timer's callback never fires, and its slot stays its own",
  async (t, loop) => {
    const victim = new Timer(loop);
    victim.start(() => t.fail('the closed timer fired'), 5);
    let replacement: Timer | undefined;
    let fired = 0;
    const closer = new Timer(loop);
    closer.start(() => {
      victim.close();
      replacement = new Timer(loop);
      replacement.start(() => fired++, 1);
    }, 1);
    await until(() => fired === 1, 'the replacement firing');
    t.not(slotOf(replacement!), slotOf(victim));
    t.true(victim.closed);
    closer.close();
    replacement!.close();
  },
);

test('Timers of a closed loop: construction throws ERR_LOOP_CLOSED, existing ones are closed', (t) => {
  const loop = new Loop();
  const idle = new Timer(loop);
  const started = new Timer(loop);
  started.start(() => t.fail('fired after its loop closed'), 1);
  loop.close();
  for (const timer of [idle, started]) {
    t.true(timer.closed);
    t.false(timer.active);
    t.throws(() => timer.hasRef(), { code: 'ERR_HANDLE_CLOSED' });
    const error = t.throws(() => timer.start(() => {}, 1), { instanceOf: UsageError });
    t.is(error?.code, 'ERR_HANDLE_CLOSED');
    t.notThrows(() => timer.close());
    // Below the JS checks, the native side refuses too.
    t.is(native.start(slotOf(timer), 1, 0), UV_EBADF);
  }
  const error = t.throws(() => new Timer(loop), { instanceOf: UsageError });
  t.is(error?.code, 'ERR_LOOP_CLOSED');
});

loopTest(
  'again() and repeat on a Timer made after others were closed and collected',
  async (t, loop) => {
    t.truthy(gc, 'ava runs with --expose-gc');
    for (let i = 0; i < 20; i++) new Timer(loop).close();
    await until(() => Object.keys(loop.handleCounts()).length === 0, 'the closes');
    await collect();
    const timer = new Timer(loop);
    t.is(timer.repeat, 0, 'a reused slot starts with no repeat');
    t.is(timer.dueIn, 0, 'and stopped');
    t.false(timer.active);
    let fired = 0;
    timer.start(() => fired++, 10_000, 3);
    t.is(timer.repeat, 3);
    timer.again();
    t.true(timer.dueIn <= 3, `due in ${timer.dueIn} ms after again()`);
    await until(() => fired >= 2, 'two repeats');
    timer.stop();
    t.false(timer.active);
    t.true(await waitFor(() => !timer.active));
    timer.close();
  },
);

// Serial: a concurrent test could take the freed slot first.
loopTest.serial('a reused slot gets a new id: the old id finds nothing', async (t, loop) => {
  const old = new Timer(loop);
  const id = slotOf(old);
  old.close();
  await until(() => Object.keys(loop.handleCounts()).length === 0, 'the close');
  // Closed and not watched: its slot is free at once, the Timer still referenced.
  const fresh = Array.from({ length: 20 }, () => new Timer(loop));
  const reused = fresh.find((timer) => indexOf(timer) === indexOf(old));
  t.truthy(reused, 'a new Timer reuses the index of the closed one');
  t.not(slotOf(reused!), id);
  t.is(native.start(id, 1, 0), UV_EBADF, 'the old id does not reach the new Timer');
  t.is(native.stop(id), UV_EBADF);
  native.close(id, false);
  t.false(reused!.closed);
  t.false(reused!.active);
  for (const timer of fresh) timer.close();
});

loopTest('a Timer left open and inactive is listed, then closed by the GC', async (t, loop) => {
  t.truthy(gc, 'ava runs with --expose-gc');
  let fired = 0;
  const kept: { timer?: Timer } = { timer: new Timer(loop) };
  // Fired, not closed: inactive and open once its callback returned.
  kept.timer!.start(() => fired++, 1);
  await until(() => fired === 1, 'the callback');
  await new Promise((resolve) => setImmediate(resolve)); // past the sweep
  gc!();
  t.deepEqual(loop.handles(), [kept.timer], 'listed while referenced');
  t.false(kept.timer!.active);
  delete kept.timer;
  await until(() => {
    gc!();
    return Object.keys(loop.handleCounts()).length === 0;
  }, 'the collection');
  t.deepEqual(loop.handles(), []);
});

loopTest('Timers with a close callback are kept until it ran, after gc()', async (t, loop) => {
  t.truthy(gc, 'ava runs with --expose-gc');
  let closes = 0;
  (() => {
    for (let i = 0; i < 50; i++) {
      const timer = new Timer(loop);
      timer.start(() => t.fail('a closed timer fired'), 1);
      timer.close(() => closes++);
    }
  })();
  gc!();
  await until(() => closes === 50, 'every close callback');
  t.is(closes, 50);
});

test('a closed loop lets go of its started Timers', async (t) => {
  t.truthy(gc, 'ava runs with --expose-gc');
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  (() => {
    const loop = new Loop();
    for (let i = 0; i < 10; i++) {
      const timer = new Timer(loop);
      timer.start(() => {}, 10_000);
      registry.register(timer, i);
    }
    loop.close();
  })();
  await until(() => {
    gc!();
    return collected === 10;
  }, 'the collection of the Timers of a closed loop');
  t.is(collected, 10);
});
