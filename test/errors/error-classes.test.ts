// The error classes: exported from every entry point whose users meet them
// (docs name the import), each one class shared by all entry points, and a
// `name` that says which class it is.
import test from 'ava';
import * as root from 'asyncuv';
import * as handles from 'asyncuv/handles';
import * as loop from 'asyncuv/loop';
import * as sync from 'asyncuv/sync';
import * as adapters from 'asyncuv/adapters';
import { loopTest } from '../helpers/loop-test.js';

const entryPoints = {
  asyncuv: root,
  'asyncuv/handles': handles,
  'asyncuv/loop': loop,
  'asyncuv/sync': sync,
  'asyncuv/adapters': adapters,
};

for (const [path, mod] of Object.entries(entryPoints)) {
  test(`${path} exports UsageError, the one class every layer throws`, (t) => {
    t.is((mod as Record<string, unknown>)['UsageError'], root.UsageError);
  });
}

for (const path of ['asyncuv', 'asyncuv/handles', 'asyncuv/loop', 'asyncuv/adapters'] as const) {
  test(`${path} exports UvError`, (t) => {
    t.is((entryPoints[path] as Record<string, unknown>)['UvError'], root.UvError);
  });
}

loopTest('a UsageError thrown for misuse is named UsageError, whatever its code', (t, uvloop) => {
  const timer = new handles.Timer(uvloop);
  try {
    for (const bad of [-1, '10']) {
      const err = t.throws(() => timer.start(() => {}, bad as number), {
        instanceOf: handles.UsageError,
      });
      t.is(err?.name, 'UsageError');
      t.regex(err?.code ?? '', /^ERR_(OUT_OF_RANGE|INVALID_ARG_TYPE)$/);
      t.true(String(err).startsWith('UsageError: '));
    }
    const mutex = new sync.Mutex();
    const err = t.throws(() => mutex.unlock(), {
      instanceOf: sync.UsageError,
      code: 'ERR_LOCK_NOT_OWNED',
    });
    t.is(err?.name, 'UsageError');
  } finally {
    timer.close();
  }
});

loopTest('a UvError from libuv is named UvError', (t, uvloop) => {
  const tcp = new handles.TCP(uvloop);
  try {
    const err = t.throws(() => tcp.bind('not an address', 0), { instanceOf: handles.UvError });
    t.is(err?.name, 'UvError');
  } finally {
    tcp.close();
  }
});

test('other error classes are named after themselves, but two take Web platform names', (t) => {
  const cases: Array<[Error, string]> = [
    [new loop.IncompleteReadError(Buffer.alloc(1), 2), 'IncompleteReadError'],
    [new loop.LimitOverrunError('too long', 3), 'LimitOverrunError'],
    [new sync.LockAbandonedError('Mutex', 7), 'LockAbandonedError'],
    // Node's own AbortError (what node:net rejects with on abort), so
    // `err.name === 'AbortError'` checks written for Node or fetch hold.
    [new loop.CancelledError(), 'AbortError'],
    // AbortSignal.timeout()'s DOMException name, for the same reason.
    [new sync.SyncTimeoutError('Mutex', 5), 'TimeoutError'],
  ];
  for (const [err, name] of cases) t.is(err.name, name, err.constructor.name);
  // One UsageError takes the Web name too: an uncloneable Queue value is
  // refused as postMessage and structuredClone refuse it.
  const queue = new sync.Queue();
  t.throws(() => queue.put(() => {}), {
    instanceOf: sync.UsageError,
    code: 'ERR_DATA_CLONE',
    name: 'DataCloneError',
  });
});
