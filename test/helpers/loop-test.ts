// Test helpers shared by every handle and driver test.
//
//   import { loopTest, waitFor, deferred } from '../helpers/loop-test.js';
//   loopTest('timer fires once', async (t, loop) => { ... });
//
// loopTest gives each test a fresh Loop and, once the body returns, checks
// the libuv test-suite rule: every handle the test made is closed. It waits
// (bounded) for close callbacks to run, asserts loop.handleCounts() is {},
// and closes the loop even when the body failed.
import test, { type ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Loop } from '../../handles/index.js';
import { kNative } from '../../handles/internal.js';

export type LoopTestBody = (t: ExecutionContext, loop: Loop) => Promise<void> | void;

/** How long the end-of-test leak check waits for close callbacks. */
export const LEAK_CHECK_MS = 10_000;

function wrap(body: LoopTestBody) {
  return async (t: ExecutionContext): Promise<void> => {
    const loop = new Loop();
    try {
      await body(t, loop);
      // Close callbacks of an embedded loop run in later batches of Node's
      // loop, so give them a moment before calling anything a leak.
      const drained = await waitFor(
        () => Object.keys(loop.handleCounts()).length === 0,
        LEAK_CHECK_MS,
      );
      t.true(
        drained,
        `handles left open at the end of the test: ${JSON.stringify(loop.handleCounts())}, alive=${loop.alive}, running=${loop.running}, driver=${JSON.stringify(loop[kNative].driverState())}`,
      );
      t.deepEqual(loop.handleCounts(), {});
    } finally {
      if (!loop.running) loop.close();
    }
  };
}

/** A test with a fresh Loop that must end with no live handle. */
export function loopTest(title: string, body: LoopTestBody): void {
  test(title, wrap(body));
}

/** The same, run serially (signals and other process-wide state). */
loopTest.serial = function serial(title: string, body: LoopTestBody): void {
  test.serial(title, wrap(body));
};

/**
 * A fresh loop for one test. If the test fails before it closes the loop,
 * the teardown closes it (and every handle on it) so that a failure cannot
 * keep the test process alive.
 */
export function newLoop(t: ExecutionContext): Loop {
  const loop = new Loop();
  t.teardown(() => {
    if (!loop.closed && !loop.running) loop.close();
  });
  return loop;
}

/**
 * Waits (bounded) until every handle of each loop has reached libuv's
 * close callback, asserts that none is left, then closes the loop. Close
 * callbacks run on the loop's next batch, hence the wait.
 */
export async function assertNoHandlesAndClose(
  t: ExecutionContext,
  ...loops: Loop[]
): Promise<void> {
  for (const loop of loops) {
    await waitFor(() => Object.keys(loop.handleCounts()).length === 0, LEAK_CHECK_MS, 1);
    t.deepEqual(loop.handleCounts(), {}, 'live handles left at the end of the test');
    loop.close();
  }
}

/**
 * The longest one step of a hang bound may count. A step (a poll, or the
 * gap between two) that took longer means the thread could not run: the
 * process was not scheduled (a loaded machine, ASan beside the worker
 * stress) or something blocked the thread. Such time does not use up a
 * hang bound: a loop under test that stalls is still caught, since the
 * bound's own timer keeps coming on time while it does, but a test does
 * not fail because the whole process was held up, which is how CI once saw
 * three bulk-transfer cases of one file time out together. How long the
 * thread was held up goes into the message when a bound does run out.
 */
const kMaxStepMs = 250;

/** A hang bound of `ms` that counts only time in which this thread ran. */
export class HangBound {
  readonly #ms: number;
  #spent = 0;
  #heldUp = 0;
  #last = performance.now();
  constructor(ms: number) {
    this.#ms = ms;
  }
  /** Counts the time since the last call; true once the bound has run out. */
  expired(): boolean {
    const now = performance.now();
    const step = now - this.#last;
    this.#last = now;
    this.#spent += Math.min(step, kMaxStepMs);
    this.#heldUp += Math.max(0, step - kMaxStepMs);
    return this.#spent >= this.#ms;
  }
  /** The error a bound that ran out waiting for `what` rejects with. */
  error(what: string): Error {
    const held =
      this.#heldUp > 0
        ? ` (and ${Math.round(this.#heldUp)} ms in which the thread was held up)`
        : '';
    return new Error(`timed out after ${this.#ms} ms${held} waiting for ${what}`);
  }
}

/**
 * Polls `predicate` every few milliseconds with Node's own timers (so both
 * loops keep running) until it is true or `timeoutMs` passes (a HangBound:
 * time in which the thread was held up does not count). Resolves to the
 * predicate's last value; the caller asserts it.
 */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5000,
  stepMs = 5,
): Promise<boolean> {
  const bound = new HangBound(timeoutMs);
  while (!predicate()) {
    if (bound.expired()) return false;
    await sleep(stepMs);
  }
  return true;
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** A promise with its resolve and reject exposed, for callbacks to settle. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * How long a test waits for one event before it names what hung: a hang
 * bound, not a timing assertion (every test file runs at once on a loaded
 * machine), below ava's own 60 s.
 */
export const HANG_MS = 20_000;

/** How often `within` looks at its bound. */
const kCheckMs = 50;

/**
 * Settles as `promise` does, or rejects after `ms` (a HangBound) with a
 * message naming `what`, so a callback that never comes fails the test
 * quickly instead of hitting ava's global timeout.
 */
export async function within<T>(promise: Promise<T>, what: string, ms = HANG_MS): Promise<T> {
  const bound = new HangBound(ms);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const check = (): void => {
      if (bound.expired()) reject(bound.error(what));
      else timer = setTimeout(check, kCheckMs);
    };
    timer = setTimeout(check, kCheckMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `cond` on Node's own timers (independent of the loop under test)
 * until it is true; throws after `ms` (a HangBound), naming `what`.
 */
export async function until(cond: () => boolean, what: string, ms = HANG_MS): Promise<void> {
  const bound = new HangBound(ms);
  while (!cond()) {
    if (bound.expired()) throw bound.error(what);
    await sleep(2);
  }
}

/**
 * Waits while `progress()` keeps changing: throws once it has stayed the
 * same for `ms` (a HangBound), naming `what` and the last progress seen.
 * For bulk transfers, where what is tested is that every byte arrives, not
 * how fast a loaded machine moves them.
 */
export async function untilStalled(
  done: () => boolean,
  progress: () => unknown,
  what: string,
  ms = 10_000,
): Promise<void> {
  while (!done()) {
    const seen = progress();
    await until(() => done() || progress() !== seen, `${what} (stuck at ${String(seen)})`, ms);
  }
}
