// The UvEventLoop counterpart of loop-test.ts's leak rule: an event loop on
// its own libuv Loop, closed at the end, with every handle of that Loop
// checked closed, even when the test body failed.
import type { ExecutionContext } from 'ava';
import { Loop } from '../../handles/index.js';
import { UvEventLoop } from '../../loop/index.js';
import { LEAK_CHECK_MS, waitFor } from './loop-test.js';

/**
 * Closes `loop` (if the test did not), waits for the close callbacks of
 * `uvloop`'s handles, asserts that none is left, and closes `uvloop`.
 */
export async function closeEventLoop(
  t: ExecutionContext,
  loop: UvEventLoop,
  uvloop: Loop,
): Promise<void> {
  try {
    if (!loop.isClosed()) loop.close();
    await waitFor(() => Object.keys(uvloop.handleCounts()).length === 0, LEAK_CHECK_MS);
    t.deepEqual(uvloop.handleCounts(), {}, 'every handle of the event loop closed');
  } finally {
    if (!uvloop.closed && !uvloop.running) uvloop.close();
  }
}

/** Runs `body` with a fresh UvEventLoop on a fresh Loop, then closeEventLoop(). */
export async function onUvEventLoop(
  t: ExecutionContext,
  body: (loop: UvEventLoop, uvloop: Loop) => Promise<void>,
): Promise<void> {
  const uvloop = new Loop();
  const loop = new UvEventLoop(uvloop);
  try {
    await body(loop, uvloop);
  } finally {
    await closeEventLoop(t, loop, uvloop);
  }
}
