// waitFor (asyncio.wait_for): the deadline, the TimeoutError, the signal
// handed to work given as a function, and what is not awaitable. The
// stream reads it cancels over real connections are in the conformance
// suite (scenarios/cancellation.ts), on both loops.
import test from 'ava';
import { spawn } from 'node:child_process';
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

// docs/loop.md: as asyncio's wait_for, a deadline of 0 lets settled work
// win; unlike it, the function is still called, and its signal aborted just
// after (cancellation is the work's choice here, not injected at an await).
test('a deadline of 0 calls the function, then aborts its signal', async (t) => {
  let called = false;
  let abortedAtCall: boolean | undefined;
  let signal: AbortSignal | undefined;
  const err = await t.throwsAsync(
    waitFor((s) => {
      called = true;
      signal = s;
      abortedAtCall = s.aborted;
      return never();
    }, 0),
    { instanceOf: TimeoutError },
  );
  t.true(called);
  t.false(abortedAtCall, 'not aborted yet when the function runs');
  t.true(signal!.aborted);
  t.is(signal!.reason, err, 'the signal was aborted with the TimeoutError');
});

// docs/loop.md: the deadline is final: waitFor rejects when it passes,
// without waiting for work that ignores the signal, and what that work does
// afterwards is not reported.
test('the deadline is final: work that ignores the signal does not hold it', async (t) => {
  let settleLate!: (v: string) => void;
  const late = new Promise<string>((resolve) => (settleLate = resolve));
  await t.throwsAsync(
    waitFor(() => late, 0.02),
    { instanceOf: TimeoutError },
  );
  // It rejected while the work was still pending; what the work does now is
  // not reported anywhere.
  settleLate('too late');
  t.is(await late, 'too late');
});

// docs/loop.md: waitFor's timer keeps the process alive until the work
// settles (where AbortSignal.timeout()'s does not): a program awaiting
// nothing else still gets its TimeoutError. In a child process, whose exit
// is what is observed.
test('the deadline keeps the process alive until it passes', async (t) => {
  const program = `
import { waitFor } from ${JSON.stringify(new URL('../../index.js', import.meta.url).href)};
await waitFor(new Promise(() => {}), 0.1).catch((err) => console.log(err.name));
`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += String(d)));
  const [code] = (await once(child, 'exit')) as [number | null];
  t.is(output.trim(), 'TimeoutError');
  t.is(code, 0);
});
