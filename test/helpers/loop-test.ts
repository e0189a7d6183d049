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
 * Polls `predicate` every few milliseconds with Node's own timers (so both
 * loops keep running) until it is true or `timeoutMs` passes. Resolves to
 * the predicate's last value; the caller asserts it.
 */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5000,
  stepMs = 5,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() >= deadline) return false;
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

/**
 * Settles as `promise` does, or rejects after `ms` with a message naming
 * `what`, so a callback that never comes fails the test quickly instead of
 * hitting ava's global timeout.
 */
export async function within<T>(promise: Promise<T>, what: string, ms = HANG_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `cond` on Node's own timers (independent of the loop under test)
 * until it is true; throws after `ms`, naming `what`.
 */
export async function until(cond: () => boolean, what: string, ms = HANG_MS): Promise<void> {
  if (!(await waitFor(cond, ms, 2)))
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
