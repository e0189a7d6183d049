// waitFor (asyncio.wait_for): the deadline, the TimeoutError, the signal
// handed to work given as a function, and what is not awaitable. The
// stream reads it cancels over real connections are in the conformance
// suite (scenarios/cancellation.ts), on both loops.
import test from 'ava';
import { once } from 'node:events';
import { types } from 'node:util';
import { TimeoutError, waitFor } from 'asyncuv';
import * as loopLayer from 'asyncuv/loop';

const never = (): Promise<never> => new Promise(() => {});

test('waitFor is exported from asyncuv and asyncuv/loop', (t) => {
  t.is(loopLayer.waitFor, waitFor);
  t.is(loopLayer.TimeoutError, TimeoutError);
});

test('settles as the work does when it is in time', async (t) => {
  t.is(await waitFor(Promise.resolve(42), 5), 42);
  t.is(await waitFor(async (signal) => (signal.aborted ? 'aborted' : 'done'), 5), 'done');
  const boom = new Error('boom');
  t.is(await t.throwsAsync(waitFor(Promise.reject(boom), 5)), boom);
  t.is(await t.throwsAsync(waitFor(() => Promise.reject(boom), 5)), boom);
  t.is(
    await t.throwsAsync(
      waitFor(() => {
        throw boom;
      }, 5),
    ),
    boom,
  );
});

test('rejects with TimeoutError: an Error named like AbortSignal.timeout()s reason', async (t) => {
  const err = await t.throwsAsync(waitFor(never(), 0.01), { instanceOf: TimeoutError });
  t.is(err!.name, 'TimeoutError');
  t.is((err as TimeoutError).code, 'ERR_TIMEOUT');
  // An Error on every Node version (a DOMException is not one on Node 20).
  t.true(types.isNativeError(err));
  const timeout = AbortSignal.timeout(1);
  // AbortSignal.timeout's timer does not keep the process alive; this does.
  const keepAlive = setTimeout(() => {}, 60_000);
  await once(timeout, 'abort');
  clearTimeout(keepAlive);
  t.is(err!.name, (timeout.reason as DOMException).name);
});

test('a function gets a signal aborted at the deadline, the TimeoutError its reason', async (t) => {
  let seen: AbortSignal | undefined;
  const err = await t.throwsAsync(
    waitFor((signal) => {
      seen = signal;
      return never();
    }, 0.01),
  );
  t.true(seen!.aborted);
  t.is(seen!.reason, err);
});

test('work that rejects because of the abort still reports the TimeoutError', async (t) => {
  const work = (signal: AbortSignal): Promise<never> =>
    new Promise((_, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted inside')));
    });
  await t.throwsAsync(waitFor(work, 0.01), { instanceOf: TimeoutError });
});

test('a deadline of 0 (or less) lets settled work win, as asyncio', async (t) => {
  t.is(await waitFor(Promise.resolve('ready'), 0), 'ready');
  t.is(await waitFor(Promise.resolve('ready'), -1), 'ready');
  await t.throwsAsync(waitFor(never(), 0), { instanceOf: TimeoutError });
});

test('null and Infinity mean no deadline', async (t) => {
  t.is(await waitFor(new Promise((r) => setTimeout(() => r('late'), 30)), null), 'late');
  let aborted = false;
  t.is(
    await waitFor((signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return Promise.resolve('x');
    }, Infinity),
    'x',
  );
  t.false(aborted);
});

// Serial: ava runs serial tests before the concurrent ones, so no other
// test's timers are counted.
test.serial('leaves no timer behind once the work settles', async (t) => {
  const timers = (): number =>
    process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await waitFor(Promise.resolve(1), 3600);
  await t.throwsAsync(waitFor(Promise.reject(new Error('x')), 3600));
  t.is(timers(), before);
});

test('what is not awaitable, and a bad timeout, are usage errors', async (t) => {
  await t.throwsAsync(waitFor(42 as never, 1), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(
    waitFor(() => 42 as never, 1),
    { code: 'ERR_INVALID_ARG_TYPE' },
  );
  await t.throwsAsync(waitFor(Promise.resolve(), Number.NaN), { code: 'ERR_OUT_OF_RANGE' });
  await t.throwsAsync(waitFor(Promise.resolve(), '1' as never), { code: 'ERR_INVALID_ARG_TYPE' });
});
