// (c) of read-batch.test.ts: a throw from each read's callback of a batch.
// Child processes, because ava treats an uncaught exception as a failure.
import test from 'ava';
import { jsonLines, runFixture } from '../helpers/child.js';

for (const mode of ['embedded', 'blocking']) {
  test(`${mode}: every read of a batch is delivered and each throw reported, in order`, async (t) => {
    const child = await runFixture('read-batch-child.js', [mode]);
    t.is(child.code, 0, child.stderr);
    t.deepEqual(jsonLines(child.stdout), [
      { read: 0, data: 'x0' },
      { caught: 'boom 0' },
      { read: 1, data: 'x1' },
      { caught: 'boom 1' },
      { read: 2, data: 'x2' },
      { caught: 'boom 2' },
      { check: true },
    ]);
  });
}
