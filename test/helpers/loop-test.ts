// Test helpers for the handles/ layer: every test ends with no live handle.
import type { ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Loop } from 'asyncuv';

/**
 * A fresh loop for one test. If the test fails before it closes the loop,
 * the teardown closes it (and every handle on it) so that a failure cannot
 * keep the test process alive.
 */
export function newLoop(t: ExecutionContext): Loop {
  const loop = new Loop();
  t.teardown(() => {
    if (!loop.closed) loop.close();
  });
  return loop;
}

/**
 * Waits (up to `timeoutMs`) until every handle of `loop` has reached
 * libuv's close callback, asserts that none is left, then closes the loop.
 * Close callbacks run on the loop's next batch, hence the wait.
 */
export async function assertNoHandlesAndClose(t: ExecutionContext, loop: Loop, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Object.keys(loop.handleCounts()).length > 0 && Date.now() < deadline) {
    await sleep(1);
  }
  t.deepEqual(loop.handleCounts(), {}, 'live handles left at the end of the test');
  loop.close();
}

/** A promise with its resolve and reject, for callbacks that end a test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Rejects after `ms` so that a missing callback fails the test instead of hanging it. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
