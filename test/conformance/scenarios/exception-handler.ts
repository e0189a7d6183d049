// The loop's exception handler (test_base_events.py: test_default_exc_handler_*,
// test_set_exc_handler_*): what the context holds, and the default handler.
import type { ExceptionContext } from 'asyncuv';
import { type MakeLoop, type Test, future, withLoop, within } from '../harness.js';

/** Runs `fn` with console.error captured (its output is also kept quiet). */
async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const original = console.error;
  const lines: string[] = [];
  console.error = (...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  };
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines.join('\n');
}

export function exceptionHandler(test: Test, makeLoop: MakeLoop, name: string): void {
  test(`${name}: a throwing callSoon callback reaches the handler with message, exception and handle`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const got = future<ExceptionContext>();
      const boom = new Error('boom');
      loop.setExceptionHandler((l, context) => {
        t.is(l, loop);
        got.resolve(context);
      });
      const handle = loop.callSoon(function zeroDivision() {
        throw boom;
      });
      const context = await within(got.promise, 'exception handler');
      t.is(context.exception, boom);
      t.is(context.handle, handle);
      t.true(context.message.startsWith('Exception in callback'), context.message);
    }));

  test(`${name}: a throwing timer callback reaches the handler with its TimerHandle`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const got = future<ExceptionContext>();
      loop.setExceptionHandler((_l, context) => got.resolve(context));
      const handle = loop.callLater(0.001, () => {
        throw new TypeError('bad');
      });
      const context = await within(got.promise, 'exception handler');
      t.is(context.handle, handle);
      t.true(context.exception instanceof TypeError);
    }));

  test(`${name}: the loop keeps running callbacks after one throws`, (t) =>
    withLoop(
      t,
      makeLoop,
      async ({ loop, exceptions }) => {
        const done = future();
        loop.callSoon(() => {
          throw new Error('first');
        });
        loop.callSoon(done.resolve);
        await within(done.promise, 'callback after a throwing one');
        t.is(exceptions.length, 1);
        t.is((exceptions[0]!.exception as Error).message, 'first');
      },
      { expectExceptions: true },
    ));

  test(`${name}: get/setExceptionHandler round-trip, null restores the default, non-functions are refused`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const handler = (): void => {};
      loop.setExceptionHandler(handler);
      t.is(loop.getExceptionHandler(), handler);
      t.throws(() => loop.setExceptionHandler('nope' as never), { code: 'ERR_INVALID_ARG_TYPE' });
      t.is(loop.getExceptionHandler(), handler);
      loop.setExceptionHandler(null);
      t.is(loop.getExceptionHandler(), null);
    }));

  test.serial(`${name}: the default handler logs the message, extra keys and the stack`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      loop.setExceptionHandler(null);
      const done = future();
      const output = await captureStderr(async () => {
        loop.callSoon(function failingCallback() {
          throw new Error('default-handler-marker');
        });
        loop.callSoon(done.resolve);
        await within(done.promise, 'callbacks');
        loop.callExceptionHandler({ message: 'custom-message-marker', extraKey: 'extra-value' });
      });
      t.regex(output, /Exception in callback/);
      t.regex(output, /default-handler-marker/);
      t.regex(output, /at failingCallback/, 'the stack is printed');
      t.regex(output, /custom-message-marker/);
      t.regex(output, /extraKey: extra-value/);
    }),
  );

  test.serial(`${name}: an exception handler that throws falls back to the default handler`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      loop.setExceptionHandler(() => {
        throw new Error('handler-failure-marker');
      });
      const output = await captureStderr(async () => {
        loop.callExceptionHandler({ message: 'original' });
      });
      t.regex(output, /Unhandled error in exception handler/);
      t.regex(output, /handler-failure-marker/);
    }),
  );

  test(`${name}: callExceptionHandler passes the context through unchanged`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      const seen: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, c) => seen.push(c));
      const context = { message: 'm', exception: new Error('e'), custom: 1 };
      loop.callExceptionHandler(context);
      t.is(seen.length, 1);
      t.is(seen[0]!.message, 'm');
      t.is(seen[0]!['custom'], 1);
      t.is(seen[0]!.exception, context.exception);
    }));

  test(`${name}: getDebug/setDebug`, (t) =>
    withLoop(t, makeLoop, async ({ loop }) => {
      loop.setDebug(true);
      t.true(loop.getDebug());
      loop.setDebug(false);
      t.false(loop.getDebug());
    }));
}
