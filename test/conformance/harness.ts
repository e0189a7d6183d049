// The conformance suite is written once, as scenarios that take a loop
// factory, and run against every AbstractEventLoop implementation: uv.test.ts
// runs them on UvEventLoop; another file runs them on NodeEventLoop.
//
// A scenario module exports `(test, makeLoop, name) => void` and registers
// ava tests whose titles start with `name`. Each test gets a fresh loop from
// `makeLoop()` through `withLoop`, which closes it afterwards and has the
// fixture check that nothing the loop used is left alive. Running the suite
// on another loop takes one small file, e.g.:
//
//   const makeLoop = Object.assign(
//     (): LoopFixture => ({ loop: new NodeEventLoop(), settle: async (t) => { /* leak check */ } }),
//     { unsupported: { addReader: 'why this loop cannot' } },
//   );
//   for (const scenario of scenarios) scenario(test, makeLoop, 'node');
//
// Feature names used with testIf: 'datagram', 'unix', 'pipes',
// 'subprocess', 'addReader', 'reusePort' (TCP servers).
//
// Where the cases come from: CPython's Lib/test/test_asyncio, read and
// ported (never copied) to this API: camelCase, Promises for futures, an
// AbortSignal for cancellation, seconds, [host, port] tuples. Each scenario
// file's header names the CPython tests it draws from: test_events.py
// (EventLoopTestsMixin, SubprocessTestsMixin), test_base_events.py,
// test_selector_events.py, test_unix_events.py, test_streams.py,
// test_subprocess.py, test_server.py, test_transports.py,
// test_buffered_proto.py and test_waitfor.py / test_timeouts.py (waitFor).
// A case that fails on either loop is a bug of that loop, fixed there; a
// case with no equivalent in this API is left out, not skipped.
import type { ExecutionContext, TestFn } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AbstractEventLoop, ExceptionContext } from 'asyncuv';

export interface LoopFixture {
  loop: AbstractEventLoop;
  /**
   * Called after loop.close(): waits until whatever the loop ran on has
   * released everything, and asserts it (UvEventLoop: the libuv loop's
   * handleCounts() is {}).
   */
  settle(t: ExecutionContext): Promise<void>;
  /**
   * How the loop's machinery stands (UvEventLoop: the libuv loop's handles
   * and its driver on Node's loop), logged when a case fails, so a hang
   * seen once in CI says where it was.
   */
  describe?(): string;
}

/**
 * Makes a fresh loop per test. `unsupported` names features a loop cannot
 * offer at all (e.g. 'addReader' on a loop without fd watching), each with
 * the reason; those tests are registered as skipped, the reason in the title.
 */
export type MakeLoop = (() => LoopFixture) & { unsupported?: Readonly<Record<string, string>> };
export type Test = TestFn;
export type Scenario = (test: TestFn, makeLoop: MakeLoop, name: string) => void;

export interface LoopContext {
  loop: AbstractEventLoop;
  /** Contexts the loop's exception handler received (unless the test replaced it). */
  exceptions: ExceptionContext[];
}

/**
 * How many cases of a file run at once. ava starts every concurrent test of
 * a file together, and what each case does before its first await
 * (spawning children, binding servers) runs in that one turn of Node's
 * loop: with a file's 260 cases at once, that turn took 2 s on a quiet
 * machine and 10-25 s under ASan on a loaded one, past the hang bound
 * (within) of cases that wait for a later turn. A case's hang bound starts
 * once it runs.
 */
const kCasesAtOnce = 8;
let casesRunning = 0;
const casesWaiting: Array<() => void> = [];

/** Waits for a place among the cases running; the function returned gives it back. */
async function casePlace(): Promise<() => void> {
  if (casesRunning < kCasesAtOnce) casesRunning++;
  else await new Promise<void>((resolve) => casesWaiting.push(resolve));
  // The place passes straight to a waiting case, so no newcomer takes it
  // in between.
  return () => {
    const next = casesWaiting.shift();
    if (next !== undefined) next();
    else casesRunning--;
  };
}

/**
 * Runs `body` with a fresh loop, once a place among the cases running is
 * free (kCasesAtOnce). Afterwards the loop is stopped and closed, the
 * fixture's leak check and the loop's own (liveResources) run, and
 * exceptions that reached the loop's exception handler fail the test
 * unless `expectExceptions` is set.
 */
export async function withLoop(
  t: ExecutionContext,
  makeLoop: MakeLoop,
  body: (ctx: LoopContext) => Promise<void>,
  opts: { expectExceptions?: boolean } = {},
): Promise<void> {
  const leave = await casePlace();
  try {
    await runWithLoop(t, makeLoop, body, opts);
  } finally {
    leave();
  }
}

async function runWithLoop(
  t: ExecutionContext,
  makeLoop: MakeLoop,
  body: (ctx: LoopContext) => Promise<void>,
  opts: { expectExceptions?: boolean },
): Promise<void> {
  const fixture = makeLoop();
  const { loop } = fixture;
  const exceptions: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    exceptions.push(context);
  });
  try {
    await body({ loop, exceptions });
    // Before close(), which releases whatever is left: what the case
    // opened it must have closed itself.
    if (!loop.isClosed()) {
      for (let i = 0; i < 400 && Object.keys(loop.liveResources()).length > 0; i++) await sleep(5);
      t.deepEqual(loop.liveResources(), {}, 'the case closed everything it opened');
    }
  } catch (err) {
    if (fixture.describe !== undefined) t.log(`loop at the failure: ${fixture.describe()}`);
    throw err;
  } finally {
    if (loop.isRunning()) {
      loop.stop();
      for (let i = 0; i < 100 && loop.isRunning(); i++) await sleep(5);
    }
    loop.close();
    await fixture.settle(t);
    // The leak check every loop offers, with the same kinds on each.
    for (let i = 0; i < 400 && Object.keys(loop.liveResources()).length > 0; i++) await sleep(5);
    t.deepEqual(
      loop.liveResources(),
      {},
      'liveResources() is empty once the test closed everything',
    );
  }
  if (!opts.expectExceptions) {
    t.deepEqual(
      exceptions.map((c) => `${c.message}: ${String(c.exception)}`),
      [],
      'no exception reached the loop exception handler',
    );
  }
}

export { until, untilStalled, within } from '../helpers/loop-test.js';

/** A promise with its resolve/reject outside (asyncio's loop.create_future()). */
export function future<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Registers a test that needs `feature`, or a documented skip if the loop lacks it. */
export function testIf(
  test: TestFn,
  makeLoop: MakeLoop,
  feature: string,
  title: string,
  impl: (t: ExecutionContext) => Promise<void>,
): void {
  const reason = makeLoop.unsupported?.[feature];
  if (reason === undefined) test(title, impl);
  else test.skip(`${title} (unsupported on this loop: ${reason})`, impl);
}

/** The body of a case: the loop's context and ava's assertions. */
export type CaseBody = (ctx: LoopContext, t: ExecutionContext) => Promise<void>;

/**
 * Returns `it(title, body)` for a scenario's cases: each is titled
 * `${name}: ${title}` and run withLoop.
 */
export function cases(
  test: TestFn,
  makeLoop: MakeLoop,
  name: string,
): (title: string, body: CaseBody) => void {
  return (title, body) =>
    test(`${name}: ${title}`, (t) => withLoop(t, makeLoop, (ctx) => body(ctx, t)));
}

/**
 * Returns `it(title, body)` for a scenario whose every case needs `feature`:
 * each case is titled `${name}: ${title}`, gated by testIf and run withLoop.
 */
export function featureCases(
  test: TestFn,
  makeLoop: MakeLoop,
  feature: string,
  name: string,
): (title: string, body: CaseBody) => void {
  return (title, body) =>
    testIf(test, makeLoop, feature, `${name}: ${title}`, (t) =>
      withLoop(t, makeLoop, (ctx) => body(ctx, t)),
    );
}

/**
 * featureCases whose every case gets a fresh resource from `open`, given to
 * `close` afterwards whatever happened (a fifo, a socket path).
 */
export function featureCasesWith<R>(
  test: TestFn,
  makeLoop: MakeLoop,
  feature: string,
  name: string,
  open: () => R | Promise<R>,
  close: (resource: R) => void,
): (
  title: string,
  body: (ctx: LoopContext, t: ExecutionContext, resource: R) => Promise<void>,
) => void {
  const it = featureCases(test, makeLoop, feature, name);
  return (title, body) =>
    it(title, async (ctx, t) => {
      const resource = await open();
      try {
        await body(ctx, t, resource);
      } finally {
        close(resource);
      }
    });
}
