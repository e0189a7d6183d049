import test from 'ava';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FSEvent, type FSEventKinds, UvError } from 'asyncuv';
import { assertNoHandlesAndClose, newLoop, within } from '../helpers/loop-test.js';

interface Seen {
  filename: string | null;
  events: FSEventKinds;
}

/** Starts `watcher` and returns a function that waits until an event matches. */
function recorder(watcher: FSEvent, path: string) {
  const seen: Seen[] = [];
  let check: (() => void) | undefined;
  watcher.start(path, (err, filename, events) => {
    if (err === null) seen.push({ filename, events });
    check?.();
  });
  return (match: (s: Seen) => boolean, what: string): Promise<Seen> =>
    within(
      new Promise<Seen>((resolve) => {
        check = () => {
          const found = seen.find(match);
          if (found !== undefined) resolve(found);
        };
        check();
      }),
      what,
      3000,
    );
}

test('FSEvent on a directory sees creation, change and rename', async (t) => {
  const loop = newLoop(t);
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fsevent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const watcher = new FSEvent(loop);
  const waitFor = recorder(watcher, dir);
  t.is(watcher.getPath(), dir);

  writeFileSync(join(dir, 'a.txt'), 'x');
  t.truthy(
    await waitFor(
      (s) => s.filename === 'a.txt' && s.events.rename,
      'rename event for the new file',
    ),
  );
  appendFileSync(join(dir, 'a.txt'), 'y');
  t.truthy(await waitFor((s) => s.filename === 'a.txt' && s.events.change, 'change event'));
  renameSync(join(dir, 'a.txt'), join(dir, 'b.txt'));
  t.truthy(
    await waitFor(
      (s) => s.filename === 'b.txt' && s.events.rename,
      'rename event for the new name',
    ),
  );

  watcher.stop();
  t.false(watcher.active);
  await new Promise<void>((r) => watcher.close(r));
  await assertNoHandlesAndClose(t, loop);
});

test('FSEvent on a file reports changes under its own name', async (t) => {
  const loop = newLoop(t);
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-fsevent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'file.txt');
  writeFileSync(path, 'start');
  const watcher = new FSEvent(loop);
  const waitFor = recorder(watcher, path);
  appendFileSync(path, ' more');
  const seen = await waitFor((s) => s.events.change, 'change event');
  t.is(seen.filename, 'file.txt');
  await new Promise<void>((r) => watcher.close(r));
  await assertNoHandlesAndClose(t, loop);
});

test('FSEvent errors are typed', async (t) => {
  const loop = newLoop(t);
  const watcher = new FSEvent(loop);
  t.throws(() => watcher.start(join(tmpdir(), 'asyncuv-missing-dir'), () => {}), {
    instanceOf: UvError,
    code: 'ENOENT',
  });
  t.throws(() => watcher.getPath(), { instanceOf: UvError, code: 'EINVAL' });
  if (process.platform === 'linux') {
    t.throws(() => watcher.start(tmpdir(), { recursive: true }, () => {}), {
      instanceOf: UvError,
      code: 'ENOSYS',
    });
  }
  t.throws(() => watcher.start(tmpdir(), { recursive: 1 as unknown as boolean }, () => {}), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => watcher.start(tmpdir(), {}, undefined as unknown as () => void), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  for (const opts of [null, 5, 'recursive']) {
    t.throws(() => watcher.start(tmpdir(), opts as never, () => {}), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  t.false(watcher.active, 'the refused starts watch nothing');
  // Options left out in the three-argument form: none.
  watcher.start(tmpdir(), undefined as never, () => {});
  t.true(watcher.active);
  watcher.stop();
  watcher.close();
  t.throws(() => watcher.start(tmpdir(), () => {}), { code: 'ERR_HANDLE_CLOSED' });
  await assertNoHandlesAndClose(t, loop);
});
