// The rules every handle shares (docs/handles.md, "Lifecycle and close
// rules"; API.md's rules), checked on one handle of each class: the loop
// argument defaults to Loop.default(), a closed loop makes no handle, close()
// is idempotent with its first callback run once and later, and loop.close()
// closes whatever is left, running pending close callbacks inside it.
import test from 'ava';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Async,
  Check,
  FSEvent,
  FSPoll,
  Idle,
  Loop,
  Pipe,
  Poll,
  Prepare,
  Process,
  Signal,
  TCP,
  Timer,
  TTY,
  UDP,
  UsageError,
  type Handle,
} from '../../handles/index.js';
import { makers } from '../fuzz/handle-makers.js';
import { closeEnv, makeEnv } from '../fuzz/handle-specs.js';
import { boundUdpFd } from '../helpers/socket-fd.js';
import { assertNoHandlesAndClose, deferred, within } from '../helpers/loop-test.js';

const { fd: pollFd, close: closePollFd } = boundUdpFd();
test.after.always(closePollFd);

/** Each class made with `loop` (undefined: the argument left out), and what it took besides. */
function everyHandle(loop: Loop | undefined): Array<{ name: string; h: Handle; done(): void }> {
  const made: Array<{ name: string; h: Handle; done(): void }> = [];
  const none = (): void => {};
  const add = (name: string, h: Handle, done = none): void => {
    made.push({ name, h, done });
  };
  add('Timer', new Timer(loop));
  add('Idle', new Idle(loop));
  add('Prepare', new Prepare(loop));
  add('Check', new Check(loop));
  add('Signal', new Signal(loop));
  add('Async', new Async(loop, () => {}));
  add('TCP', new TCP(loop));
  add('UDP', new UDP(loop));
  add('Pipe', new Pipe(loop));
  add('Pipe(ipc)', new Pipe(loop, true));
  add('Poll', new Poll(loop, pollFd));
  add('FSPoll', new FSPoll(loop));
  add('FSEvent', new FSEvent(loop));
  // A pty master: a terminal this process owns (the TTY closes it).
  const master = openSync('/dev/ptmx', 'r+');
  add('TTY', new TTY(loop, master, true));
  const proc = Process.spawn(loop, { file: 'true', stdio: ['pipe', 'ignore', 'ignore'] });
  add('Process', proc, () => proc.stdio[0]?.close());
  return made;
}

test.serial('every handle made without a loop is on Loop.default()', async (t) => {
  const made = everyHandle(undefined);
  const loop = Loop.default();
  for (const { name, h } of made) t.is(h.loop, loop, name);
  t.is(made.length, 15);
  const closed = made.map(({ h, done }) => {
    const d = deferred<void>();
    h.close(() => d.resolve());
    done();
    return d.promise;
  });
  await within(Promise.all(closed), 'the close callbacks');
  t.deepEqual(loop.handleCounts(), {}, 'nothing of the test is left on the default loop');
});

test('no handle of any class is made on a closed loop: ERR_LOOP_CLOSED, nothing opened', (t) => {
  const loop = new Loop();
  loop.close();
  const fd = openSync('/dev/ptmx', 'r+');
  const calls: Array<[string, () => unknown]> = [
    ['Timer', () => new Timer(loop)],
    ['Idle', () => new Idle(loop)],
    ['Prepare', () => new Prepare(loop)],
    ['Check', () => new Check(loop)],
    ['Signal', () => new Signal(loop)],
    ['Async', () => new Async(loop, () => {})],
    ['TCP', () => new TCP(loop)],
    ['UDP', () => new UDP(loop)],
    ['Pipe', () => new Pipe(loop)],
    ['Pipe(ipc)', () => new Pipe(loop, true)],
    ['Poll', () => new Poll(loop, pollFd)],
    ['FSPoll', () => new FSPoll(loop)],
    ['FSEvent', () => new FSEvent(loop)],
    ['TTY', () => new TTY(loop, fd, true)],
    ['Process', () => Process.spawn(loop, { file: 'true' })],
  ];
  for (const [name, call] of calls) {
    t.throws(call, { instanceOf: UsageError, code: 'ERR_LOOP_CLOSED' }, name);
  }
  // The refused TTY did not take the fd: it is still ours to close.
  t.notThrows(() => closeSync(fd));
  t.deepEqual(loop.handleCounts(), {});
});

for (const maker of makers(pollFd)) {
  test(`${maker.name}: close() is idempotent, its callback runs once and later, the handle refuses all but close()`, async (t) => {
    const loop = new Loop();
    const env = makeEnv(loop);
    const h = maker.make(env);
    t.false(h.closed);
    let first = 0;
    let second = 0;
    const closed = deferred<void>();
    h.close(() => {
      first++;
      closed.resolve();
    });
    t.true(h.closed, 'closed from the moment close() is called');
    t.false(h.active);
    t.is(first, 0, 'never inside close() itself');
    h.close(() => second++);
    for (const [what, call] of [
      ['ref', () => h.ref()],
      ['unref', () => h.unref()],
      ['hasRef', () => h.hasRef()],
    ] as const) {
      t.throws(call, { instanceOf: UsageError, code: 'ERR_HANDLE_CLOSED' }, what);
    }
    await within(closed.promise, `${maker.name}'s close callback`);
    // A later pass, where a second callback would have run by now.
    await new Promise((resolve) => setTimeout(resolve, 20));
    t.is(first, 1);
    t.is(second, 0, 'the second close() is a no-op: its callback never runs');
    maker.cleanup?.(h);
    closeEnv(env);
    await assertNoHandlesAndClose(t, loop);
  });
}

test('loop.close() closes a handle of every class, running pending close callbacks inside it', (t) => {
  const loop = new Loop();
  const dir = mkdtempSync(join(tmpdir(), 'asyncuv-lifecycle-'));
  try {
    const made = everyHandle(loop);
    // Some started, one with its close in flight.
    (made.find((m) => m.name === 'Timer')!.h as Timer).start(() => t.fail('fired'), 0);
    (made.find((m) => m.name === 'Idle')!.h as Idle).start(() => t.fail('ran'));
    (made.find((m) => m.name === 'FSEvent')!.h as FSEvent).start(dir, () => {});
    (made.find((m) => m.name === 'FSPoll')!.h as FSPoll).start(dir, 1000, () => {});
    let closeCallbacks = 0;
    made.find((m) => m.name === 'Check')!.h.close(() => closeCallbacks++);
    loop.close();
    t.is(closeCallbacks, 1, 'the pending close callback ran inside loop.close()');
    for (const { name, h } of made) {
      t.true(h.closed, name);
      t.false(h.active, name);
    }
    t.deepEqual(loop.handleCounts(), {});
    t.deepEqual(loop.handles(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
