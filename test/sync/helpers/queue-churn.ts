// Stress drivers for the Queue, shared by test/sync/queue-stress.test.ts and
// the workers of fixtures/queue-tasks.ts.
//
// churn() repeats the sequence of queue.test.ts's "getAsync and putAsync
// wait without blocking" test (async gets and puts that wait, time out or
// are aborted, interleaved with sync gets and puts from timers) on a queue
// of its own, checking every value that comes out. Several churns on one
// thread interleave: one's encodes and decodes run while another's calls
// wait, which is what found a putAsync whose bytes were overwritten.
//
// produce()/consume() share one queue between threads and mix blocking
// calls (which sleep in Atomics.wait) with async ones that are aborted or
// time out, on the same thread: a wake-up taken by an abandoned async wait
// leaves a blocked thread asleep beside an item.
import { isDeepStrictEqual } from 'node:util';
import type { Queue } from 'asyncuv/sync';

/** A value whose shape depends on `n`: every path of the codec (fast and v8.serialize). */
export function valueFor(tag: string, n: number, step: string): unknown {
  switch (n % 6) {
    case 0:
      return `${tag}:${n}:${step}`;
    case 1:
      return { tag, n, step, pad: 'x'.repeat(n % 40) };
    case 2:
      return [tag, n, step, n % 4 === 2 ? -0 : 1.5];
    case 3:
      return new Map<unknown, unknown>([[tag, { n, step }]]);
    case 4:
      return `${tag}:${n}:${step}:${'é日'.repeat(n % 7)}`;
    default:
      return n % 12 === 5 ? -0 : n + 0.25;
  }
}

export class Mismatch extends Error {
  override name = 'Mismatch';
}

function expectValue(got: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(got, expected)) {
    throw new Mismatch(`${what}: got ${describe(got)}, expected ${describe(expected)}`);
  }
}

function describe(v: unknown): string {
  if (Object.is(v, -0)) return '-0';
  if (v instanceof Map) return `Map(${JSON.stringify([...v])})`;
  return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

async function expectRejection(
  p: Promise<unknown>,
  ok: (err: unknown) => boolean,
  what: string,
): Promise<void> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    if (ok(err)) return;
    throw new Mismatch(`${what}: rejected with ${String(err)}`);
  }
  throw new Mismatch(`${what}: resolved with ${describe(value)}`);
}

const isTimeout = (err: unknown): boolean =>
  (err as { code?: unknown }).code === 'ERR_SYNC_TIMEOUT';

/** Runs `fn` soon, in one of four ways picked by `n`: a microtask, an immediate, or a timer. */
export function later(n: number, fn: () => void): void {
  switch (n % 4) {
    case 0:
      queueMicrotask(fn);
      break;
    case 1:
      setImmediate(fn);
      break;
    default:
      setTimeout(fn, (n % 4) - 2);
  }
}

/**
 * An AbortSignal that aborts soon (synchronously after the call, in a
 * microtask, an immediate or a timer, or as AbortSignal.timeout), and a
 * check that a rejection carries its reason.
 */
interface SoonAborted {
  signal: AbortSignal;
  start: () => void;
  isReason: (err: unknown) => boolean;
}

function abortSoon(n: number): SoonAborted {
  if (n % 5 === 4) {
    const signal = AbortSignal.timeout(n % 2);
    return { signal, start: () => {}, isReason: (err) => (err as Error).name === 'TimeoutError' };
  }
  const controller = new AbortController();
  const reason = new Error(`abort ${n}`);
  const abort = (): void => controller.abort(reason);
  return {
    signal: controller.signal,
    start: () => (n % 5 === 3 ? abort() : later(n, abort)),
    isReason: (err) => err === reason,
  };
}

/** One round of the sequence on `queue` (maxSize 1, empty, used by nobody else). */
async function churnRound(queue: Queue, tag: string, n: number): Promise<void> {
  const v = (step: string): unknown => valueFor(tag, n, step);
  const what = (step: string): string => `${tag} round ${n} ${step}`;

  const getAbort = abortSoon(n);
  const aborted = queue.getAsync({ signal: getAbort.signal });
  getAbort.start();
  await expectRejection(aborted, getAbort.isReason, what('aborted getAsync'));
  await expectRejection(queue.getAsync({ timeoutMs: n % 2 }), isTimeout, what('getAsync on empty'));

  const getting = queue.getAsync();
  later(n, () => queue.put(v('a')));
  expectValue(await getting, v('a'), what('getAsync'));

  await queue.putAsync(v('b'));
  const full = queue.putAsync(v('c'), { timeoutMs: n % 2 });
  await expectRejection(full, isTimeout, what('putAsync on full'));
  const putAbort = abortSoon(n + 1);
  const abortedPut = queue.putAsync(v('x'), { signal: putAbort.signal });
  putAbort.start();
  await expectRejection(abortedPut, putAbort.isReason, what('aborted putAsync'));

  const putting = queue.putAsync(v('d'));
  let freed: unknown = 'nothing yet';
  later(n + 1, () => {
    freed = queue.get(0);
  });
  await putting;
  expectValue(freed, v('b'), what('get that made room'));
  expectValue(queue.get(0), v('d'), what('get after the waiting putAsync'));
  if (queue.size !== 0) throw new Mismatch(`${what('end')}: size ${queue.size}`);
}

/** `rounds` rounds of the sequence on `queue` (maxSize 1, used by nobody else). */
export async function churn(queue: Queue, tag: string, rounds: number): Promise<number> {
  for (let n = 0; n < rounds; n++) await churnRound(queue, tag, n);
  return rounds;
}

/** The item a producer puts as number `seq`. */
export interface Item {
  producer: number;
  seq: number;
  value: unknown;
}

export function itemFor(producer: number, seq: number): Item {
  return { producer, seq, value: valueFor(`p${producer}`, seq, 'item') };
}

/**
 * One put of `item` by a call picked by `i`: blocking put(), put with a
 * short timeout, putAsync, or putAsync that is aborted or times out. False
 * if it was refused that way (nothing was put).
 */
export async function putMixed(queue: Queue, item: unknown, i: number): Promise<boolean> {
  switch (i % 5) {
    case 0:
      queue.put(item);
      return true;
    case 1:
      try {
        queue.put(item, i % 3);
        return true;
      } catch (err) {
        if (!isTimeout(err)) throw err;
        return false;
      }
    case 2:
      await queue.putAsync(item);
      return true;
    default: {
      const abort = abortSoon(i);
      const putting = queue.putAsync(item, { signal: abort.signal, timeoutMs: i % 7 });
      abort.start();
      try {
        await putting;
        return true;
      } catch (err) {
        if (!abort.isReason(err) && !isTimeout(err)) throw err;
        return false;
      }
    }
  }
}

const kNothing = Symbol('nothing');

/** One get by a call picked by `i`, as putMixed(); kNothing if it timed out or was aborted. */
export async function getMixed(queue: Queue, i: number): Promise<unknown> {
  switch (i % 5) {
    case 0:
      return queue.get();
    case 1:
      try {
        return queue.get(i % 3);
      } catch (err) {
        if (!isTimeout(err)) throw err;
        return kNothing;
      }
    case 2:
      return await queue.getAsync();
    default: {
      const abort = abortSoon(i);
      const getting = queue.getAsync({ signal: abort.signal, timeoutMs: i % 7 });
      abort.start();
      try {
        return await getting;
      } catch (err) {
        if (!abort.isReason(err) && !isTimeout(err)) throw err;
        return kNothing;
      }
    }
  }
}

/** Puts itemFor(producer, 0..n-1), in order, each exactly once (a refused put is tried again). */
export async function produce(
  queue: Queue,
  producer: number,
  n: number,
): Promise<{ retries: number }> {
  let retries = 0;
  for (let seq = 0; seq < n;) {
    if (await putMixed(queue, itemFor(producer, seq), seq + retries)) seq++;
    else retries++;
  }
  return { retries };
}

/**
 * Gets items until `null` with getMixed(); checks each one against
 * itemFor() and each producer's order. Returns the items as
 * producer * 1e6 + seq.
 */
export async function consume(
  queue: Queue,
  producers: number,
): Promise<{ got: number[]; retries: number }> {
  const last = new Array<number>(producers).fill(-1);
  const gotten: number[] = [];
  let retries = 0;
  for (let i = 0; ; i++) {
    const got = await getMixed(queue, i);
    if (got === kNothing) {
      retries++;
      continue;
    }
    if (got === null) return { got: gotten, retries };
    const { producer, seq } = got as Item;
    if (!Number.isInteger(producer) || producer < 0 || producer >= producers) {
      throw new Mismatch(`consumer got ${describe(got)}`);
    }
    if (seq <= last[producer]!) {
      throw new Mismatch(`producer ${producer}'s item ${seq} came after ${last[producer]}`);
    }
    expectValue(got, itemFor(producer, seq), `item ${producer}/${seq}`);
    last[producer] = seq;
    gotten.push(producer * 1e6 + seq);
  }
}

/**
 * Ping-pong between two threads over two queues: `n` times, the serving
 * side gets an item from `inbox` and puts it back on `outbox`; the other
 * side puts item i and gets it back. One item is in flight at a time, so
 * every wake-up matters: one taken by an abandoned wait of a thread that
 * then blocks is never passed on, and both sides sleep for good.
 */
export async function pingPong(
  inbox: Queue,
  outbox: Queue,
  serve: boolean,
  n: number,
): Promise<number> {
  let retries = 0;
  const getOne = async (i: number): Promise<unknown> => {
    for (;;) {
      const got = await getMixed(inbox, i + retries);
      if (got !== kNothing) return got;
      retries++;
    }
  };
  const putOne = async (item: unknown, i: number): Promise<void> => {
    while (!(await putMixed(outbox, item, i + retries))) retries++;
  };
  for (let i = 0; i < n; i++) {
    if (serve) {
      await putOne(await getOne(i), i);
    } else {
      const item = itemFor(0, i);
      await putOne(item, i);
      expectValue(await getOne(i), item, `ping-pong item ${i}`);
    }
  }
  return retries;
}
