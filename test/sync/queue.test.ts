import test from 'ava';
import { Mutex, Queue } from 'asyncuv/sync';
import { runWorker } from './helpers/workers.js';

const fixture = 'queue-tasks';

test('100,000 items from 3 producers to 2 consumers: nothing lost, nothing duplicated', async (t) => {
  // A small ring makes producers block on a full queue and records wrap often.
  const queue = new Queue({ maxSize: 64, bytes: 4096 });
  const perProducer = 33_334;
  const producers = [0, 1, 2].map((producer) =>
    runWorker(fixture, { task: 'produce', handle: queue.handle, producer, n: perProducer }),
  );
  const consumers = [0, 1].map(() =>
    runWorker<{ got: number[]; ordered: boolean }>(fixture, {
      task: 'consume',
      handle: queue.handle,
    }),
  );
  await Promise.all(producers);
  await queue.putAsync(null);
  await queue.putAsync(null);
  const results = await Promise.all(consumers);
  const all = results.flatMap((r) => r.got);
  t.is(all.length, 3 * perProducer);
  t.is(new Set(all).size, all.length, 'no duplicates');
  for (let p = 0; p < 3; p++) {
    t.is(all.filter((v) => Math.floor(v / 1e6) === p).length, perProducer, `producer ${p}`);
  }
  t.true(
    results.every((r) => r.ordered),
    "each producer's items arrive in order",
  );
  t.is(queue.size, 0);
});

test('values arrive as structured clones', async (t) => {
  const there = new Queue();
  const back = new Queue();
  const shared = { a: 1 };
  const cyclic: Record<string, unknown> = { name: 'c' };
  cyclic['self'] = cyclic;
  const values: unknown[] = [
    undefined,
    true,
    -0,
    NaN,
    2 ** 53,
    'héllo 日本 🎉',
    'lone \ud800 surrogate',
    [1, [2, [3]], { a: null }],
    { nested: { deep: ['x'] }, n: 1.5 },
    new Map<unknown, unknown>([['k', new Set([1, 2])]]),
    new Date(86_400_000),
    /re/gi,
    10n ** 30n,
    new Uint8Array([1, 2, 3]),
    [1, , 3], // eslint-disable-line no-sparse-arrays
    { left: shared, right: shared },
    cyclic,
  ];
  // The worker sends every value it gets from `there` back on `back`.
  const echo = runWorker(fixture, { task: 'echo', handle: there.handle, reply: back.handle });
  for (const v of values) {
    there.put(v);
    t.deepEqual(await back.getAsync(), structuredClone(v));
  }
  there.put(null);
  t.is(await back.getAsync(), null);
  await echo;
  there.put({ left: shared, right: shared });
  const pair = there.get() as { left: object; right: object };
  t.is(pair.left, pair.right, 'shared references stay shared');
  there.put(cyclic);
  const c = there.get() as Record<string, unknown>;
  t.is(c['self'], c, 'cycles survive');
  there.put([1, , 3]); // eslint-disable-line no-sparse-arrays
  t.false(1 in (there.get() as unknown[]), 'holes stay holes');
});

test('get(timeoutMs) on an empty queue and put(v, timeoutMs) on a full one throw ERR_SYNC_TIMEOUT', (t) => {
  const queue = new Queue<number>({ maxSize: 2 });
  t.throws(() => queue.get(0), { code: 'ERR_SYNC_TIMEOUT' });
  const start = performance.now();
  t.throws(() => queue.get(40), { code: 'ERR_SYNC_TIMEOUT' });
  t.true(performance.now() - start >= 35);
  queue.put(1);
  queue.put(2);
  t.throws(() => queue.put(3, 20), { code: 'ERR_SYNC_TIMEOUT' });
  t.is(queue.size, 2);
  t.is(queue.get(), 1);
  t.is(queue.get(), 2);
});

test('getAsync and putAsync wait without blocking; abort and timeout reject', async (t) => {
  const queue = new Queue<string>({ maxSize: 1 });
  const controller = new AbortController();
  const aborted = queue.getAsync({ signal: controller.signal });
  controller.abort(new Error('stop'));
  await t.throwsAsync(aborted, { message: 'stop' });
  await t.throwsAsync(queue.getAsync({ timeoutMs: 20 }), { code: 'ERR_SYNC_TIMEOUT' });
  const getting = queue.getAsync();
  setTimeout(() => queue.put('a'), 10);
  t.is(await getting, 'a');
  await queue.putAsync('b');
  await t.throwsAsync(queue.putAsync('c', { timeoutMs: 20 }), { code: 'ERR_SYNC_TIMEOUT' });
  const putting = queue.putAsync('d');
  setTimeout(() => queue.get(), 10);
  await putting;
  t.is(queue.get(), 'd');
  t.is(queue.size, 0);
});

test('an uncloneable value throws ERR_DATA_CLONE and leaves the queue usable', (t) => {
  const queue = new Queue();
  t.throws(() => queue.put({ f() {} }), { code: 'ERR_DATA_CLONE', name: 'DataCloneError' });
  t.throws(() => queue.put(Symbol('s')), { code: 'ERR_DATA_CLONE' });
  t.is(queue.size, 0);
  queue.put('ok');
  t.is(queue.get(), 'ok');
});

// docs/sync.md, "Queue": v8.serialize's answers where it differs from
// postMessage (a Buffer stays a Buffer; a SharedArrayBuffer is refused
// rather than shared), a Proxy refused as postMessage refuses it, the
// fast path's one knowing difference, and the defaults: a 1 MiB ring, and
// maxSize 0 for no item limit.
test('Queue values: Buffer, SharedArrayBuffer, Proxy, array properties; the defaults', (t) => {
  const queue = new Queue();
  queue.put(Buffer.from('ab'));
  const buffer = queue.get();
  t.true(Buffer.isBuffer(buffer));
  t.is(String(buffer), 'ab');
  for (const value of [
    new SharedArrayBuffer(8),
    { inner: new SharedArrayBuffer(8) },
    new Proxy({}, {}),
  ]) {
    t.throws(() => queue.put(value), { code: 'ERR_DATA_CLONE', name: 'DataCloneError' });
  }
  t.is(queue.size, 0, 'nothing refused was queued');
  const tagged = Object.assign([1, 2], { note: 'dropped' });
  queue.put(tagged);
  const copy = queue.get() as unknown[] & { note?: string };
  t.deepEqual([...copy], [1, 2]);
  t.is(copy.note, undefined, 'non-index properties of an array are not copied on the fast path');
  // The default ring is 1 MiB: a value just under it fits, one above it does not.
  queue.put('x'.repeat(1_000_000));
  t.is((queue.get() as string).length, 1_000_000);
  t.throws(() => queue.put('x'.repeat(1_100_000)), { code: 'ERR_QUEUE_ITEM_TOO_LARGE' });
  const unbounded = new Queue<number>({ maxSize: 0, bytes: 64 * 1024 });
  for (let i = 0; i < 5000; i++) unbounded.put(i, 0);
  t.is(unbounded.size, 5000, 'maxSize 0: no item limit, only the ring');
  for (let i = 0; i < 5000; i++) t.is(unbounded.get(0), i);
});

test('an item larger than the ring throws ERR_QUEUE_ITEM_TOO_LARGE; bad options are typed errors', (t) => {
  const queue = new Queue({ bytes: 256 });
  t.throws(() => queue.put('x'.repeat(300)), { code: 'ERR_QUEUE_ITEM_TOO_LARGE' });
  queue.put('x'.repeat(200));
  t.is((queue.get() as string).length, 200);
  t.throws(() => new Queue({ maxSize: -1 }), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new Queue({ bytes: 10 }), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new Queue('x' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => Queue.from({ asyncuvSync: 'Queue', buffer: new SharedArrayBuffer(8) } as never), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => queue.get(-1), { code: 'ERR_OUT_OF_RANGE' });
});

test('FIFO order and wrap-around on one thread', (t) => {
  const queue = new Queue<{ i: number; pad: string }>({ bytes: 512 });
  let next = 0;
  for (let i = 0; i < 2000; i++) {
    queue.put({ i, pad: 'p'.repeat(i % 50) }, 0);
    if (queue.size > 3 || i % 7 === 0) {
      while (queue.size > 0) t.is(queue.get(0).i, next++);
    }
  }
  while (queue.size > 0) t.is(queue.get(0).i, next++);
  t.is(next, 2000);
});

test('records of every size from 2 to 320 bytes arrive whole, through wrap-around', async (t) => {
  // Small records are copied word by word, larger ones with Buffer#copy
  // (sync/ring-copy.ts); a length that is not a multiple of 4 leaves a tail.
  // A 1 KiB ring makes most of them wrap. putAsync copies its bytes into a
  // Buffer of its own (not the codec's scratch), so it is checked too.
  const queue = new Queue<string>({ bytes: 1024 });
  const value = (n: number): string =>
    String.fromCharCode(...Array.from({ length: n }, (_, i) => 33 + ((n * 7 + i) % 90)));
  for (let n = 0; n <= 314; n++) {
    queue.put(value(n), 0);
    queue.put(`${value(n)}\u00e9`, 0);
    t.is(queue.get(0), value(n));
    t.is(queue.get(0), `${value(n)}\u00e9`);
    await queue.putAsync(value(n));
    t.is(await queue.getAsync(), value(n));
  }
  t.is(queue.size, 0);
});

test('a queue whose internal lock was left held by a dead thread recovers', async (t) => {
  // A worker that exits holding a Mutex leaves its (now dead) thread id in
  // the mutex's lock word; plant that id in the queue's lock word (word 0,
  // sync/queue.ts), as if the thread had died in the middle of a put.
  const mutex = new Mutex();
  await runWorker('mutex-tasks', { task: 'lockAndExit', handle: mutex.handle });
  const deadId = Atomics.load(new Int32Array(mutex.handle.buffer), 0);
  t.not(deadId, 0);
  const queue = new Queue<string>();
  queue.put('before');
  Atomics.store(new Int32Array(queue.handle.buffer), 0, deadId);
  const start = performance.now();
  t.is(await queue.getAsync({ timeoutMs: 10_000 }), 'before');
  t.true(performance.now() - start < 5_000);
  queue.put('after', 0);
  t.is(queue.get(0), 'after');
});

test('a putAsync that waits for room puts its own value, whatever is put meanwhile', async (t) => {
  // Another task's encodes while the putAsync waits: a fast-path value
  // (-0, whose decoded bytes also stay behind in the decode buffer) and a
  // v8.serialize one (a Map).
  const other = new Queue();
  for (const meanwhile of [-0, new Map([[1, 'one']]), 'a much longer string than the value put']) {
    const queue = new Queue<string>({ maxSize: 1 });
    queue.put('b');
    const putting = queue.putAsync('d');
    other.put(meanwhile);
    t.deepEqual(other.get(), meanwhile);
    t.is(queue.get(), 'b');
    await putting;
    t.is(queue.get(), 'd');
  }
});

test('a value whose getter puts another value is queued whole', (t) => {
  const queue = new Queue();
  const log = new Queue();
  const value = {
    a: 'first',
    get b() {
      log.put({ read: 'b', nested: [1, 2] });
      return ['second', 2];
    },
    c: [1, 2, 3],
  };
  queue.put(value);
  t.deepEqual(queue.get(), { a: 'first', b: ['second', 2], c: [1, 2, 3] });
  t.deepEqual(log.get(), { read: 'b', nested: [1, 2] });
  // The same for a getter that puts while the value itself goes through v8.serialize.
  const viaV8 = {
    m: new Map([[1, 2]]),
    get x() {
      log.put('x read');
      return 'x';
    },
  };
  queue.put(viaV8);
  t.deepEqual(queue.get(), { m: new Map([[1, 2]]), x: 'x' });
  t.is(log.get(), 'x read');
  t.is(log.size, 0);
});

test('a record that is not what put() wrote throws ERR_QUEUE_CORRUPT, never a wrong value', (t) => {
  // The first record starts at byte 64 of the buffer (sync/queue.ts): its
  // 4-byte length, then the bytes. A forged handle can write anything there.
  const queue = new Queue<unknown>();
  const words = new Int32Array(queue.handle.buffer);
  for (const [value, forge] of [
    ['abcd', (n: number) => n - 2],
    [{ k: 'value' }, (n: number) => n + 3],
    [new Map([[1, 2]]), (n: number) => n - 4],
    ['x', () => 0],
    ['y', () => 2 ** 30],
  ] as const) {
    queue.put(value);
    words[16] = forge(words[16]!);
    t.throws(() => queue.get(0), { code: 'ERR_QUEUE_CORRUPT' }, String(value));
    // The queue stays usable for what a Queue writes once it is emptied.
    Atomics.store(words, 1, 0);
    Atomics.store(words, 5, 0);
  }
  queue.put('ok');
  t.is(queue.get(0), 'ok');
});
