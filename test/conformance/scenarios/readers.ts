// fd watchers (test_events.py: test_add_reader / test_reader_callback,
// test_add_writer / test_writer_callback, remove_* return values).
import { writeSync } from 'node:fs';
import { makeFifo } from '../fifo.js';
import { type MakeLoop, type Test, future, testIf, withLoop, within } from '../harness.js';

export function readers(test: Test, makeLoop: MakeLoop, name: string): void {
  testIf(
    test,
    makeLoop,
    'addReader',
    `${name}: addReader calls back with its arguments while the fd is readable; removeReader stops it`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          const got: Buffer[] = [];
          const all = future();
          loop.addReader(
            fifo.readFd,
            (tag: string) => {
              t.is(tag, 'tag');
              const data = fifo.readNow();
              if (data.length > 0) got.push(data);
              if (Buffer.concat(got).toString() === 'abcdef') all.resolve();
            },
            'tag',
          );
          writeSync(fifo.writeFd, 'abc');
          setTimeout(() => writeSync(fifo.writeFd, 'def'), 10);
          await within(all.promise, 'reader callbacks');
          t.true(loop.removeReader(fifo.readFd));
          t.false(loop.removeReader(fifo.readFd));
          writeSync(fifo.writeFd, 'after');
          await new Promise((r) => setTimeout(r, 30));
          t.is(Buffer.concat(got).toString(), 'abcdef');
          t.is(fifo.readNow().toString(), 'after', 'nobody read it after removeReader');
        } finally {
          fifo.dispose();
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'addReader',
    `${name}: addWriter calls back while the fd is writable; removeWriter stops it`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          let calls = 0;
          const called = future();
          loop.addWriter(fifo.writeFd, () => {
            calls++;
            writeSync(fifo.writeFd, 'w');
            if (calls === 3) {
              t.true(loop.removeWriter(fifo.writeFd));
              called.resolve();
            }
          });
          await within(called.promise, 'writer callbacks');
          await new Promise((r) => setTimeout(r, 30));
          t.is(calls, 3);
          t.false(loop.removeWriter(fifo.writeFd));
          t.is(fifo.readNow().toString(), 'www');
        } finally {
          fifo.dispose();
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'addReader',
    `${name}: a reader and a writer on one fd are independent; adding again replaces the callback`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        const fifo = await makeFifo();
        try {
          const calls: string[] = [];
          const second = future();
          loop.addReader(fifo.readFd, () => calls.push('first'));
          loop.addReader(fifo.readFd, () => {
            calls.push('second');
            fifo.readNow();
            second.resolve();
          });
          writeSync(fifo.writeFd, 'x');
          await within(second.promise, 'replaced reader');
          t.false(calls.includes('first'));
          t.false(loop.removeWriter(fifo.readFd), 'no writer was added on that fd');
          t.true(loop.removeReader(fifo.readFd));
        } finally {
          fifo.dispose();
        }
      }),
  );

  testIf(
    test,
    makeLoop,
    'addReader',
    `${name}: bad fds and callbacks are usage errors; a closed loop refuses readers`,
    (t) =>
      withLoop(t, makeLoop, async ({ loop }) => {
        t.throws(() => loop.addReader(-1, () => {}), { code: 'ERR_OUT_OF_RANGE' });
        t.throws(() => loop.addWriter(0, 'x' as never), { code: 'ERR_INVALID_ARG_TYPE' });
        loop.close();
        t.throws(() => loop.addReader(0, () => {}), { code: 'ERR_LOOP_CLOSED' });
      }),
  );
}
