// The sync primitives: every method with wrong arguments, X.from() with
// garbage and forged handles, model-based sequences (Mutex, Semaphore,
// Queue) against a plain model, the Queue codec against structuredClone,
// Queue waits that are kept or abandoned while this thread queues other
// values, and the cross-thread rules (unlocking what a worker holds).
import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { serialize } from 'node:v8';
import { Barrier } from '../../sync/barrier.js';
import { Condition } from '../../sync/condition.js';
import { Mutex } from '../../sync/mutex.js';
import { Queue } from '../../sync/queue.js';
import { RWLock } from '../../sync/rwlock.js';
import { Semaphore } from '../../sync/semaphore.js';
import { SyncTimeoutError } from '../../sync/errors.js';
import { UsageError } from '../../errors/usage-error.js';
import { wakeAllParked } from '../sync/helpers/waiters.js';
import { holdInWorker } from '../sync/helpers/workers.js';
import { arg, attempt, attemptAsync, check, garbage, show, totalLine } from './arbitraries.js';

test.after.always(() => console.log(totalLine('sync')));

// Timeouts that a blocking call on this thread may be given: short ones, or
// wrong ones (which must throw before blocking). Never a long valid one:
// some calls here would really wait that long.
const badTimeout = garbage.filter((v) => !(typeof v === 'number' && v > 5));
// (undefined is "forever": a Semaphore at 0 or a forged lock word would
// rightly block this thread for good.)
const timeout = arg(
  fc.constantFrom(0, 1, 3),
  badTimeout.filter((v) => v !== undefined),
);
const asyncOpts = arg(
  fc.record(
    {
      timeoutMs: fc.constantFrom(0, 1, 5),
      signal: fc.constantFrom(undefined, AbortSignal.abort(), 'timeout'),
    },
    { requiredKeys: ['timeoutMs'] },
  ),
  // Not undefined, nor an object without timeoutMs: those are valid options
  // meaning "wait for good", which an empty Queue or a held lock rightly does.
  garbage.filter(
    (v) => v !== undefined && !(typeof v === 'object' && v !== null && !('timeoutMs' in v)),
  ),
);
const fixSignal = (v: unknown): unknown => {
  try {
    return typeof v === 'object' && v !== null && (v as { signal?: unknown }).signal === 'timeout'
      ? { ...v, signal: AbortSignal.timeout(2) }
      : v;
  } catch {
    return v; // a hostile proxy: passed on as it is
  }
};

type Op = [name: string, args: fc.Arbitrary<unknown[]>];
const m = (name: string, ...args: fc.Arbitrary<unknown>[]): Op => [name, fc.tuple(...args)];
const mutexOps: Op[] = [
  m('lock', timeout),
  m('tryLock'),
  m('unlock'),
  m('lockAsync', asyncOpts),
  m('guard', timeout),
  m('guardAsync', asyncOpts),
  m('get locked'),
  m('get owned'),
  m('get handle'),
];
const rwOps: Op[] = [
  m('tryReadLock'),
  m('tryWriteLock'),
  m('readLock', timeout),
  m('writeLock', timeout),
  m('readLockAsync', asyncOpts),
  m('writeLockAsync', asyncOpts),
  m('readUnlock'),
  m('writeUnlock'),
  m('readGuard', timeout),
  m('writeGuard', timeout),
  m('readGuardAsync', asyncOpts),
  m('writeGuardAsync', asyncOpts),
  m('get handle'),
];
const condOps: Op[] = [
  m('wait', arg(fc.constant('mutex')), timeout),
  m('waitAsync', arg(fc.constant('mutex')), asyncOpts),
  m('notifyOne'),
  m('notifyAll'),
  m('get handle'),
];
const semOps: Op[] = [
  m('get value'),
  m('tryAcquire'),
  m('acquire', timeout),
  m('acquireAsync', asyncOpts),
  m('release', arg(fc.integer({ min: 1, max: 5 }))),
  m('guard', timeout),
  m('guardAsync', asyncOpts),
  m('get handle'),
];
const queueOps: Op[] = [
  m('put', fc.anything(), timeout),
  m('get', timeout),
  m('putAsync', fc.anything(), asyncOpts),
  m('getAsync', asyncOpts),
  m('get size'),
  m('get maxSize'),
  m('get handle'),
];
// Barrier.wait() blocks until `count` threads arrive: only a barrier of one
// may be waited on here; waitAsync gets an abort signal.
// Any object without a signal is valid options meaning "wait for the round":
// only non-objects are wrong here.
const barrierOps: Op[] = [
  m('get count'),
  m('get handle'),
  m(
    'waitAsync',
    arg(
      fc.constant({ signal: 'timeout' }),
      garbage.filter((v) => typeof v !== 'object' || v === null),
    ),
  ),
];

interface Prim {
  name: string;
  make: fc.Arbitrary<unknown[]>;
  ctor: (...a: unknown[]) => object;
  from: (h: unknown) => object;
  kind: string;
  words: number;
  ops: Op[];
}
const prims: Prim[] = [
  {
    name: 'Mutex',
    make: fc.tuple(),
    ctor: () => new Mutex(),
    from: (h) => Mutex.from(h as never),
    kind: 'Mutex',
    words: 16,
    ops: mutexOps,
  },
  {
    name: 'RWLock',
    make: fc.tuple(),
    ctor: () => new RWLock(),
    from: (h) => RWLock.from(h as never),
    kind: 'RWLock',
    words: 64,
    ops: rwOps,
  },
  {
    name: 'Condition',
    make: fc.tuple(),
    ctor: () => new Condition(),
    from: (h) => Condition.from(h as never),
    kind: 'Condition',
    words: 16,
    ops: condOps,
  },
  {
    name: 'Semaphore',
    make: fc.tuple(
      arg(fc.nat(3)),
      arg(fc.record({ max: fc.integer({ min: 1, max: 6 }) }, { requiredKeys: [] })),
    ),
    ctor: (n, o) => new Semaphore(n as number, o as never),
    from: (h) => Semaphore.from(h as never),
    kind: 'Semaphore',
    words: 16,
    ops: semOps,
  },
  {
    name: 'Queue',
    make: fc.tuple(
      arg(
        fc.record(
          { maxSize: fc.nat(3), bytes: fc.constantFrom(64, 128, 4096) },
          { requiredKeys: [] },
        ),
      ),
    ),
    ctor: (o) => new Queue(o as never),
    from: (h) => Queue.from(h as never),
    kind: 'Queue',
    words: 32,
    ops: queueOps,
  },
  {
    name: 'Barrier',
    make: fc.tuple(arg(fc.integer({ min: 1, max: 3 }))),
    ctor: (n) => new Barrier(n as number),
    from: (h) => Barrier.from(h as never),
    kind: 'Barrier',
    words: 16,
    ops: barrierOps,
  },
];

/** Garbage, wrong-kind, too-small and forged (random content) handles. */
function garbageHandle(p: Prim): fc.Arbitrary<unknown> {
  const forged = fc
    .tuple(
      fc.constantFrom(p.kind, 'Mutex', 'Queue', 'mutex'),
      fc.integer({ min: 0, max: p.words * 4 + 512 }),
      fc.array(fc.integer(), { maxLength: 80 }),
    )
    .map(([kind, bytes, words]) => {
      const buffer = new SharedArrayBuffer(bytes - (bytes % 4));
      const view = new Int32Array(buffer);
      words.forEach((w, i) => {
        if (i < view.length) view[i] = w;
      });
      return { asyncuvSync: kind, buffer };
    });
  return fc.oneof(
    garbage,
    forged,
    fc.constant(null).map(() => ({ asyncuvSync: p.kind, buffer: new ArrayBuffer(4096) })),
  );
}

/** Undoes what a call took, so the next case starts from a free primitive. */
function releaseAll(obj: object, result: unknown): void {
  const r = result as { release?: () => void } | undefined;
  if (r !== null && typeof r === 'object' && typeof r.release === 'function') r.release();
}

async function runOp(
  p: Prim,
  obj: object,
  mutex: Mutex,
  [name, args]: [string, unknown[]],
): Promise<void> {
  const real = args.map((a) => (a === 'mutex' ? mutex : fixSignal(a)));
  const what = `${p.name}.${name}(${real.map(show).join(', ')})`;
  const o = obj as Record<string, unknown>;
  const result = await attemptAsync(
    what,
    () =>
      name.startsWith('get ')
        ? o[name.slice(4)]
        : (o[name] as (...a: unknown[]) => unknown).apply(obj, real),
    3000,
  );
  // On a forged state even giving back may be refused (typed, like any call).
  attempt(`release after ${what}`, () => releaseAll(obj, result));
}

for (const p of prims) {
  test(`${p.name}: constructor, from(garbage or forged handle) and every method with any arguments throw typed errors, never hang`, async (t) => {
    const mutex = new Mutex();
    const op = fc.oneof(...p.ops.map(([name, args]) => fc.tuple(fc.constant(name), args)));
    await check(
      t,
      `${p.name} args`,
      fc.asyncProperty(
        fc.tuple(p.make, fc.option(garbageHandle(p), { nil: undefined })),
        fc.array(op, { maxLength: 6 }),
        async ([ctorArgs, handle], ops) => {
          const what =
            handle === undefined
              ? `new ${p.name}(${ctorArgs.map(show).join(', ')})`
              : `${p.name}.from(${show(handle)})`;
          const obj = attempt(what, () =>
            handle === undefined ? p.ctor(...ctorArgs) : p.from(handle),
          );
          if (obj === undefined) return;
          // A primitive on a forged state may answer anything, but typed and in bounded time.
          for (const o of ops) await runOp(p, obj, mutex, o);
          // Whatever a sequence left held is released by hand, as a user would.
          for (const release of ['unlock', 'readUnlock', 'writeUnlock']) {
            for (let i = 0; i < 8; i++)
              if (
                attempt(
                  release,
                  () => ((obj as Record<string, () => void>)[release]?.call(obj), true),
                ) === undefined
              )
                break;
          }
        },
      ),
      60,
    );
  });
}

// --- model-based sequences ---------------------------------------------------

class MutexModel {
  held = false;
}
type MutexCmd = fc.Command<MutexModel, Mutex>;
const expectUsage = (fn: () => unknown, code: string, what: string): void => {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError && err.code === code) return;
    throw new Error(`${what}: expected ${code}, got ${String(err)}`, { cause: err });
  }
  throw new Error(`${what}: returned, expected ${code}`);
};
const mutexCommands: fc.Arbitrary<MutexCmd>[] = [
  fc.constant<MutexCmd>({
    check: () => true,
    run(model, real) {
      if (model.held) expectUsage(() => real.tryLock(), 'ERR_LOCK_RECURSION', 'tryLock while held');
      else if (real.tryLock() !== true) throw new Error('tryLock on a free mutex failed');
      model.held = true;
    },
    toString: () => 'tryLock',
  }),
  fc.constantFrom(undefined, 0, 2).map<MutexCmd>((ms) => ({
    check: () => true,
    run(model, real) {
      if (model.held) expectUsage(() => real.lock(ms), 'ERR_LOCK_RECURSION', 'lock while held');
      else if (real.lock(ms) !== true) throw new Error('lock on a free mutex failed');
      model.held = true;
    },
    toString: () => `lock(${ms})`,
  })),
  fc.constant<MutexCmd>({
    check: () => true,
    run(model, real) {
      if (!model.held) expectUsage(() => real.unlock(), 'ERR_LOCK_NOT_OWNED', 'unlock while free');
      else real.unlock();
      model.held = false;
    },
    toString: () => 'unlock',
  }),
  fc.constant<MutexCmd>({
    check: () => true,
    run(model, real) {
      if (real.locked !== model.held || real.owned !== model.held)
        throw new Error(`locked=${real.locked} owned=${real.owned}, model held=${model.held}`);
      const again = Mutex.from(real.handle);
      if (again.owned !== model.held) throw new Error('Mutex.from(handle) disagrees on ownership');
    },
    toString: () => 'state',
  }),
];

class SemModel {
  constructor(
    public value: number,
    readonly max: number,
  ) {}
}
type SemCmd = fc.Command<SemModel, Semaphore>;
const semCommands: fc.Arbitrary<SemCmd>[] = [
  fc.constant<SemCmd>({
    check: () => true,
    run(model, real) {
      const got = real.tryAcquire();
      if (got !== model.value > 0)
        throw new Error(`tryAcquire=${got} with model value ${model.value}`);
      if (got) model.value--;
    },
    toString: () => 'tryAcquire',
  }),
  fc.integer({ min: 1, max: 4 }).map<SemCmd>((n) => ({
    check: () => true,
    run(model, real) {
      if (model.max > 0 && model.value + n > model.max) {
        expectUsage(() => real.release(n), 'ERR_SEMAPHORE_OVERFLOW', `release(${n})`);
        return;
      }
      real.release(n);
      model.value += n;
    },
    toString: () => `release(${n})`,
  })),
  fc.constant<SemCmd>({
    check: () => true,
    run(model, real) {
      const got = real.acquire(0);
      if (got !== model.value > 0)
        throw new Error(`acquire(0)=${got} with model value ${model.value}`);
      if (got) model.value--;
      if (real.value !== model.value) throw new Error(`value ${real.value}, model ${model.value}`);
    },
    toString: () => 'acquire(0)',
  }),
];

class QueueModel {
  items: unknown[] = [];
  constructor(readonly maxSize: number) {}
}
type QueueCmd = fc.AsyncCommand<QueueModel, Queue>;
const cloneable = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.double(),
  fc.constantFrom(undefined, -0, NaN, 1n, new Date(0), new Map([[1, 2]])),
);
const queueCommands: fc.Arbitrary<QueueCmd>[] = [
  cloneable.map<QueueCmd>((v) => ({
    check: () => true,
    async run(model, real) {
      const full = model.maxSize > 0 && model.items.length >= model.maxSize;
      try {
        real.put(v, 0);
      } catch (err) {
        if (full && err instanceof SyncTimeoutError) return;
        throw err;
      }
      if (full)
        throw new Error(`put into a full queue (${model.items.length}/${model.maxSize}) succeeded`);
      model.items.push(structuredClone(v));
    },
    toString: () => `put(${show(v)})`,
  })),
  fc.boolean().map<QueueCmd>((useAsync) => ({
    check: () => true,
    async run(model, real) {
      let got: unknown;
      try {
        got = useAsync ? await real.getAsync({ timeoutMs: 0 }) : real.get(0);
      } catch (err) {
        if (model.items.length === 0 && err instanceof SyncTimeoutError) return;
        throw err;
      }
      if (model.items.length === 0) throw new Error(`get from an empty queue gave ${show(got)}`);
      const expected = model.items.shift();
      if (!isDeepStrictEqual(got, expected))
        throw new Error(`got ${show(got)}, expected ${show(expected)}`);
      if (real.size !== model.items.length)
        throw new Error(`size ${real.size}, model ${model.items.length}`);
    },
    toString: () => (useAsync ? 'getAsync' : 'get(0)'),
  })),
];

test('Mutex, Semaphore and Queue follow a plain model under random command sequences', async (t) => {
  await check(
    t,
    'mutex model',
    fc.property(fc.commands(mutexCommands, { maxCommands: 20 }), (cmds) => {
      const mutex = new Mutex();
      const model = new MutexModel();
      fc.modelRun(() => ({ model, real: mutex }), cmds);
      if (model.held) mutex.unlock();
    }),
    100,
  );
  await check(
    t,
    'semaphore model',
    fc.property(
      fc.nat(3),
      fc.option(fc.integer({ min: 3, max: 6 }), { nil: 0 }),
      fc.commands(semCommands, { maxCommands: 20 }),
      (initial, max, cmds) => {
        const sem = new Semaphore(initial, max ? { max } : undefined);
        fc.modelRun(() => ({ model: new SemModel(initial, max), real: sem }), cmds);
      },
    ),
    100,
  );
  await check(
    t,
    'queue model',
    fc.asyncProperty(
      fc.nat(3),
      fc.commands(queueCommands, { maxCommands: 20 }),
      async (maxSize, cmds) => {
        const queue = new Queue({ maxSize, bytes: 4096 });
        await fc.asyncModelRun(() => ({ model: new QueueModel(maxSize), real: queue }), cmds);
      },
    ),
    60,
  );
});

test('Queue: any value comes out equal to its structuredClone, or is refused with ERR_DATA_CLONE / ERR_QUEUE_ITEM_TOO_LARGE', async (t) => {
  const queue = new Queue({ bytes: 1 << 16 });
  const value = fc.oneof(
    fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withNullPrototype: true,
      withBoxedValues: true,
      withSparseArray: true,
      withObjectString: true,
      stringUnit: 'binary',
      maxDepth: 3,
    }),
    garbage,
  );
  await check(
    t,
    'queue codec',
    fc.property(value, (v) => {
      let expected: unknown;
      let cloneable = true;
      try {
        expected = structuredClone(v);
        // The documented fallback is v8.serialize, which refuses what it cannot
        // copy into bytes (a SharedArrayBuffer, which postMessage shares).
        serialize(v);
      } catch {
        cloneable = false;
      }
      try {
        queue.put(v, 0);
      } catch (err) {
        if (
          err instanceof UsageError &&
          (err.code === 'ERR_DATA_CLONE' ? !cloneable : err.code === 'ERR_QUEUE_ITEM_TOO_LARGE')
        )
          return;
        throw new Error(
          `put(${show(v)}): ${String(err)} (structuredClone ${cloneable ? 'accepts' : 'refuses'} it)`,
          { cause: err },
        );
      }
      if (!cloneable) throw new Error(`put(${show(v)}) accepted a value structuredClone refuses`);
      const got = queue.get(0);
      // Buffers come back as Buffers (v8.serialize keeps them; postMessage
      // gives Uint8Arrays): a subclass, so compared through one more clone.
      // (isDeepStrictEqual finds two Invalid Dates unequal: printed forms decide then.)
      const same =
        isDeepStrictEqual(structuredClone(got), expected) ||
        show(structuredClone(got)) === show(expected);
      if (!same)
        throw new Error(
          `put(${show(v)}) came out as ${show(got)}, structuredClone gives ${show(expected)}`,
        );
    }),
    300,
  );
});

function expectClone(got: unknown, put: unknown, what: string): void {
  if (isDeepStrictEqual(got, structuredClone(put))) return;
  throw new Error(`${what}: got ${show(got)} for ${show(put)}`);
}

// A putAsync that waits for room puts its own value, not whatever this
// thread encoded meanwhile; an abandoned wait leaves the parked set and
// takes no wake-up.
test('Queue: a waiting putAsync/getAsync gets its own value; no abandoned wait', async (t) => {
  const meanwhile = fc.array(cloneable, { maxLength: 4 });
  // How the extra wait that is abandoned ends: an abort now or from a timer, or a timeout.
  const abandon = fc.constantFrom('abort', 'abort later', 'timeout');
  const cases = fc.tuple(cloneable, cloneable, meanwhile, abandon, fc.boolean());
  const property = fc.asyncProperty(cases, async ([mine, first, others, how, putSide]) => {
    const queue = new Queue({ maxSize: 1, bytes: 4096 });
    const other = new Queue({ bytes: 4096 });
    const interleave = (): void => {
      for (const v of others) other.put(v, 0);
      for (const v of others) {
        const got = other.get(0);
        expectClone(got, v, 'the other queue');
      }
    };
    type Wait = (opts: { signal?: AbortSignal; timeoutMs?: number }) => Promise<unknown>;
    const abandoned = (wait: Wait): Promise<void> => {
      const controller = new AbortController();
      const p = wait(how === 'timeout' ? { timeoutMs: 1 } : { signal: controller.signal });
      if (how === 'abort') controller.abort();
      else if (how === 'abort later') setTimeout(() => controller.abort(), 1);
      return p.then(
        (v) => {
          throw new Error(`an abandoned wait gave ${show(v)}`);
        },
        () => {},
      );
    };
    let got: unknown;
    if (putSide) {
      queue.put(first, 0);
      await abandoned((o) => queue.putAsync(first, o));
      const putting = queue.putAsync(mine);
      interleave();
      expectClone(queue.get(0), first, 'the first item');
      await putting;
      got = queue.get(0);
    } else {
      await abandoned((o) => queue.getAsync(o));
      const getting = queue.getAsync();
      interleave();
      queue.put(mine, 0);
      got = await getting;
    }
    expectClone(got, mine, 'the waiting call');
    if (queue.size !== 0) throw new Error(`size ${queue.size} at the end`);
    const woken = wakeAllParked(queue.handle.buffer);
    if (woken !== 0) throw new Error(`${woken} waiter(s) left parked on the queue`);
  });
  await check(t, 'queue waits', property, 200);
});

test('cross-thread: a lock held by a worker cannot be released, taken or waited on from here; the worker still unlocks it', async (t) => {
  const mutex = new Mutex();
  const rw = new RWLock();
  const cond = new Condition();
  const mHolder = await holdInWorker('mutex-tasks', { task: 'hold', handle: mutex.handle });
  const rwHolder = await holdInWorker('rwlock-tasks', { task: 'holdWrite', handle: rw.handle });
  try {
    const ops: Array<[string, () => unknown, string | boolean]> = [
      ['mutex.unlock', () => mutex.unlock(), 'ERR_LOCK_NOT_OWNED'],
      ['mutex.tryLock', () => mutex.tryLock(), false],
      ['mutex.lock(1)', () => mutex.lock(1), false],
      ['mutex.owned', () => mutex.owned, false],
      ['mutex.locked', () => mutex.locked, true],
      ['cond.wait(mutex)', () => cond.wait(mutex, 1), 'ERR_LOCK_NOT_OWNED'],
      ['rw.writeUnlock', () => rw.writeUnlock(), 'ERR_LOCK_NOT_OWNED'],
      ['rw.readUnlock', () => rw.readUnlock(), 'ERR_LOCK_NOT_OWNED'],
      ['rw.tryReadLock', () => rw.tryReadLock(), false],
      ['rw.tryWriteLock', () => rw.tryWriteLock(), false],
      ['rw.readLock(1)', () => rw.readLock(1), false],
    ];
    await check(
      t,
      'cross-thread',
      fc.asyncProperty(
        fc.array(fc.nat(ops.length - 1), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (picks, withAsync) => {
          for (const i of picks) {
            const [what, fn, expected] = ops[i]!;
            if (typeof expected === 'string') expectUsage(fn, expected, what);
            else if (fn() !== expected)
              throw new Error(
                `${what} gave ${show(fn())}, expected ${expected} while a worker holds it`,
              );
          }
          if (withAsync) {
            try {
              await mutex.lockAsync({ timeoutMs: 2 });
              throw new Error('lockAsync got a mutex a worker holds');
            } catch (err) {
              if (!(err instanceof SyncTimeoutError)) throw err;
            }
          }
        },
      ),
      40,
    );
  } finally {
    await mHolder.release();
    await rwHolder.release();
  }
  // The worker's own unlock worked (release() awaited its 'unlocked'), and the locks are free again.
  t.true(mutex.tryLock());
  mutex.unlock();
  t.true(rw.tryWriteLock());
  rw.writeUnlock();
});
