// Callbacks other than callSoon's that throw: a signal handler and an fd
// reader (test_base_events.py: test_default_exc_handler_callback for any
// Handle; unix_events' signal handlers and selector readers run as Handles,
// so their errors reach the handler as 'Exception in callback ...' and the
// registration stays).
import { writeSync } from 'node:fs';
import { makeFifo } from '../fifo.js';
import { type MakeLoop, type Test, testIf, until, withLoop } from '../harness.js';

export function callbackErrors(test: Test, makeLoop: MakeLoop, name: string): void {
  // A real signal goes to the whole process: serial. SIGWINCH is ignored by
  // default, so a stray one cannot end the test process.
  test.serial(
    `${name}: a signal handler that throws reaches the handler and stays installed`,
    (t) =>
      withLoop(
        t,
        makeLoop,
        async ({ loop, exceptions }) => {
          let calls = 0;
          loop.addSignalHandler('SIGWINCH', () => {
            calls++;
            throw new Error(`signal handler failure ${calls}`);
          });
          process.kill(process.pid, 'SIGWINCH');
          await until(() => exceptions.length === 1, 'the first failure reported');
          const context = exceptions[0]!;
          t.true(context.message.startsWith('Exception in callback'), context.message);
          t.is((context.exception as Error).message, 'signal handler failure 1');
          process.kill(process.pid, 'SIGWINCH');
          await until(() => exceptions.length === 2, 'the second failure reported');
          t.is(calls, 2);
          t.true(loop.removeSignalHandler('SIGWINCH'));
        },
        { expectExceptions: true },
      ),
  );

  testIf(
    test,
    makeLoop,
    'addReader',
    `${name}: an fd reader that throws reaches the handler and stays registered`,
    (t) =>
      withLoop(
        t,
        makeLoop,
        async ({ loop, exceptions }) => {
          const fifo = await makeFifo();
          try {
            const got: string[] = [];
            loop.addReader(fifo.readFd, () => {
              const data = fifo.readNow().toString();
              got.push(data);
              throw new Error(`reader failure on ${data}`);
            });
            writeSync(fifo.writeFd, 'one');
            await until(() => exceptions.length === 1, 'the first failure reported');
            const context = exceptions[0]!;
            t.true(context.message.startsWith('Exception in callback'), context.message);
            t.is((context.exception as Error).message, 'reader failure on one');
            writeSync(fifo.writeFd, 'two');
            await until(() => got.includes('two'), 'the reader called again');
            await until(() => exceptions.length === 2, 'the second failure reported');
            t.true(loop.removeReader(fifo.readFd));
          } finally {
            fifo.dispose();
          }
        },
        { expectExceptions: true },
      ),
  );
}
