// The UvEventLoop counterpart of loop-test.ts's leak rule: an event loop on
// its own libuv Loop, closed at the end, with every handle of that Loop
// checked closed, even when the test body failed.
import type { ExecutionContext } from 'ava';
import { NodeEventLoop } from '../../adapters/index.js';
import { Loop } from '../../handles/index.js';
import type { AbstractEventLoop } from '../../loop/index.js';
import { UvEventLoop } from '../../loop/index.js';
import { assertNoHandlesAndClose, LEAK_CHECK_MS, waitFor } from './loop-test.js';

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

/**
 * Waits until `loop` holds nothing (liveResources() is {}) and asserts it:
 * for the end of a body, before close() would release what leaked.
 */
export async function assertNothingLive(
  t: ExecutionContext,
  loop: AbstractEventLoop,
): Promise<void> {
  await waitFor(() => Object.keys(loop.liveResources()).length === 0, LEAK_CHECK_MS);
  t.deepEqual(loop.liveResources(), {}, 'nothing left open on the loop');
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
    if (!loop.isClosed()) await assertNothingLive(t, loop);
  } finally {
    await closeEventLoop(t, loop, uvloop);
  }
}

/** Runs `body` with an event loop and a Loop for the handles the test gives it. */
export type OnEventLoop = (
  t: ExecutionContext,
  body: (loop: AbstractEventLoop, uvloop: Loop) => Promise<void>,
) => Promise<void>;

/**
 * A NodeEventLoop, and a fresh Loop for the asyncuv handles given to it
 * (createServer's sock, connectAcceptedSocket), checked and closed after.
 */
export const onNodeEventLoop: OnEventLoop = async (t, body) => {
  const uvloop = new Loop();
  const loop = new NodeEventLoop();
  try {
    await body(loop, uvloop);
    if (!loop.isClosed()) await assertNothingLive(t, loop);
  } finally {
    loop.close();
    await assertNoHandlesAndClose(t, uvloop);
  }
};

/** Both loops, by name, for tests that run once on each. */
export const bothEventLoops: ReadonlyArray<readonly [string, OnEventLoop]> = [
  ['UvEventLoop', onUvEventLoop],
  ['NodeEventLoop', onNodeEventLoop],
];
