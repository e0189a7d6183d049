import test from 'ava';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FSPoll, type Stats, UvError } from 'asyncuv';
import { assertNoHandlesAndClose, newLoop, until, within } from '../helpers/loop-test.js';

type Change = [UvError | null, Stats, Stats];

/** Collects FSPoll callbacks and hands them out one at a time. */
function changes(poll: FSPoll, path: string): () => Promise<Change> {
  const queue: Change[] = [];
  let waiter: ((c: Change) => void) | undefined;
  poll.start(path, 10, (err, prev, curr) => {
    const change: Change = [err, prev, curr];
    if (waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      w(change);
    } else {
      queue.push(change);
    }
  });
  return () => {
    const next = queue.shift();
    if (next !== undefined) return Promise.resolve(next);
    return within(new Promise<Change>((r) => (waiter = r)), 'an FSPoll change', 3000);
  };
}

test('a path that stays missing is reported once, and its coming back once more', async (t) => {
  const loop = newLoop(t);
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fspoll-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'not-yet.txt');
  const calls: Array<[string | null, number]> = [];
  const poll = new FSPoll(loop);
  poll.start(path, 10, (err, _prev, curr) => calls.push([err?.code ?? null, curr.size]));
  await until(() => calls.length >= 1, 'the first ENOENT');
  // Many more polls of the missing path (10 ms apart): no new callback.
  await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(calls, [['ENOENT', 0]], 'a repeated error is reported once; curr is all zeros');
  writeFileSync(path, 'here');
  await until(() => calls.length >= 2, 'the file appearing');
  t.deepEqual(calls[1], [null, 4]);
  await new Promise<void>((r) => poll.close(r));
  await assertNoHandlesAndClose(t, loop);
});

test('FSPoll reports a change and then the file going away', async (t) => {
  const loop = newLoop(t);
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fspoll-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'watched.txt');
  writeFileSync(path, 'one');
  const poll = new FSPoll(loop);
  const next = changes(poll, path);
  t.is(poll.getPath(), path);
  t.true(poll.active);
  // Let the first stat be taken before changing the file.
  await new Promise((r) => setTimeout(r, 50));
  appendFileSync(path, ' two');
  const [err, prev, curr] = await next();
  t.is(err, null);
  t.is(prev.size, 3);
  t.is(curr.size, 7);
  t.true(curr.isFile());

  renameSync(path, join(dir, 'moved.txt'));
  const [gone, before, after] = await next();
  t.true(gone instanceof UvError);
  t.is(gone?.code, 'ENOENT');
  t.is(before.size, 7);
  t.is(after.size, 0);

  poll.stop();
  t.false(poll.active);
  t.throws(() => poll.getPath(), { instanceOf: UvError, code: 'EINVAL' });
  await new Promise<void>((r) => poll.close(r));
  await assertNoHandlesAndClose(t, loop);
});

test('FSPoll argument errors are typed', async (t) => {
  const loop = newLoop(t);
  const poll = new FSPoll(loop);
  t.throws(() => poll.start('/tmp', 0, () => {}), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => poll.start(42 as unknown as string, 10, () => {}), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => poll.start('a\0b', 10, () => {}), { code: 'ERR_INVALID_ARG_VALUE' });
  poll.close();
  t.throws(() => poll.start('/tmp', 10, () => {}), { code: 'ERR_HANDLE_CLOSED' });
  await assertNoHandlesAndClose(t, loop);
});
