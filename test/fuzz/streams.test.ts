// StreamReader against a model of asyncio's StreamReader (read, readexactly,
// readuntil, readline over random chunks, EOF and limits: same results, same
// errors, no byte lost or repeated), its methods with wrong arguments, and
// StreamWriter in random operation orders over a live connection.
import test from 'ava';
import fc from 'fast-check';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { StreamReader } from '../../loop/stream-reader.js';
import { IncompleteReadError, LimitOverrunError } from '../../loop/errors.js';
import { openConnection, startServer } from '../../loop/streams.js';
import {
  arg,
  attempt,
  attemptAsync,
  check,
  garbage,
  prototypeKeys,
  show,
  totalLine,
} from './arbitraries.js';
import { loopKinds } from './loop-kinds.js';
import type { StreamWriter } from '../../loop/stream-writer.js';

test.after.always(() => console.log(totalLine('streams')));

/** asyncio.StreamReader's algorithms over a plain array (CPython 3.12 streams.py). */
class ReaderModel {
  buf: number[] = [];
  eof = false;
  constructor(readonly limit: number) {}
  take(n: number): number[] {
    return this.buf.splice(0, n);
  }
  /** undefined: the call would wait for more data. */
  read(n: number): number[] | undefined {
    if (n === 0) return [];
    if (n < 0) {
      if (!this.eof) return undefined;
      return this.take(this.buf.length);
    }
    if (this.buf.length === 0 && !this.eof) return undefined;
    return this.take(Math.min(n, this.buf.length));
  }
  readexactly(n: number): number[] | Error | undefined {
    if (n === 0) return [];
    if (this.buf.length >= n) return this.take(n);
    if (!this.eof) return undefined;
    return new IncompleteReadError(Buffer.from(this.take(this.buf.length)), n);
  }
  readuntil(sep: number[]): number[] | Error | undefined {
    let offset = 0;
    const find = (from: number): number => {
      for (let i = from; i + sep.length <= this.buf.length; i++)
        if (sep.every((b, j) => this.buf[i + j] === b)) return i;
      return -1;
    };
    const buflen = this.buf.length;
    let isep = -1;
    if (buflen - offset >= sep.length) {
      isep = find(offset);
      if (isep === -1) {
        offset = buflen + 1 - sep.length;
        if (offset > this.limit) return new LimitOverrunError('not found', offset);
      }
    }
    if (isep === -1) {
      if (this.eof) return new IncompleteReadError(Buffer.from(this.take(buflen)), null);
      return undefined;
    }
    if (isep > this.limit) return new LimitOverrunError('too long', isep);
    return this.take(isep + sep.length);
  }
  readline(): number[] | Error | undefined {
    const r = this.readuntil([10]);
    if (r instanceof IncompleteReadError) return [...r.partial];
    if (r instanceof LimitOverrunError) {
      if (this.buf[r.consumed] === 10) this.take(r.consumed + 1);
      else this.buf = [];
    }
    return r;
  }
}

type ReadOp =
  | { op: 'feed'; data: number[] }
  | { op: 'eof' }
  | { op: 'read'; n: number }
  | { op: 'readexactly'; n: number }
  | { op: 'readuntil'; sep: number[] }
  | { op: 'readline' };
const readOp: fc.Arbitrary<ReadOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('feed' as const),
      data: fc.array(fc.constantFrom(10, 97, 98, 0), { minLength: 1, maxLength: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('eof' as const) }) },
  fc.record({ op: fc.constant('read' as const), n: fc.integer({ min: -1, max: 10 }) }),
  fc.record({ op: fc.constant('readexactly' as const), n: fc.nat(10) }),
  fc.record({
    op: fc.constant('readuntil' as const),
    sep: fc.array(fc.constantFrom(10, 97, 98), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({ op: fc.constant('readline' as const) }),
);

function same(what: string, got: Buffer | Error, expected: number[] | Error): void {
  if (expected instanceof Error) {
    if (!(got instanceof Error) || got.constructor !== expected.constructor)
      throw new Error(
        `${what}: got ${show(got instanceof Error ? got.constructor.name : [...got])}, asyncio raises ${expected.constructor.name}`,
      );
    if (
      got instanceof IncompleteReadError &&
      expected instanceof IncompleteReadError &&
      (!got.partial.equals(expected.partial) || got.expected !== expected.expected)
    ) {
      throw new Error(
        `${what}: IncompleteReadError partial ${show([...got.partial])}/${got.expected}, asyncio ${show([...expected.partial])}/${expected.expected}`,
      );
    }
    if (
      got instanceof LimitOverrunError &&
      expected instanceof LimitOverrunError &&
      got.consumed !== expected.consumed
    )
      throw new Error(`${what}: consumed ${got.consumed}, asyncio ${expected.consumed}`);
    return;
  }
  if (got instanceof Error)
    throw new Error(
      `${what}: threw ${got.constructor.name} ${got.message}, asyncio returns ${show(expected)}`,
    );
  if (!got.equals(Buffer.from(expected)))
    throw new Error(`${what}: ${show([...got])}, asyncio ${show(expected)}`);
}

test('StreamReader: random chunks, EOF and reads give what asyncio gives (results, errors, waiting), nothing lost', async (t) => {
  await check(
    t,
    'stream reader model',
    fc.asyncProperty(
      fc.integer({ min: 1, max: 16 }),
      fc.array(readOp, { minLength: 1, maxLength: 25 }),
      async (limit, ops) => {
        const reader = new StreamReader({ limit });
        const model = new ReaderModel(limit);
        const log: string[] = [];
        for (const o of ops) {
          log.push(o.op === 'feed' ? `feed(${o.data.length})` : o.op);
          if (o.op === 'feed') {
            if (model.eof) continue; // feeding after EOF is a caller error, not modelled
            reader.feedData(Buffer.from(o.data));
            model.buf.push(...o.data);
            continue;
          }
          if (o.op === 'eof') {
            reader.feedEof();
            model.eof = true;
            continue;
          }
          const what = `${o.op}(${'n' in o ? o.n : 'sep' in o ? show(o.sep) : ''}) after [${log.join('; ')}] (limit ${limit})`;
          const call = (): Promise<Buffer> =>
            o.op === 'read'
              ? reader.read(o.n)
              : o.op === 'readexactly'
                ? reader.readexactly(o.n)
                : o.op === 'readuntil'
                  ? reader.readuntil(Buffer.from(o.sep))
                  : reader.readline();
          const modelCall = (): number[] | Error | undefined =>
            o.op === 'read'
              ? model.read(o.n)
              : o.op === 'readexactly'
                ? model.readexactly(o.n)
                : o.op === 'readuntil'
                  ? model.readuntil(o.sep)
                  : model.readline();
          // Ask the model on a copy first: a call that waits must not change it.
          const snapshot = [...model.buf];
          let expected = modelCall();
          let settled = false;
          const p = call().then(
            (b) => ((settled = true), b as Buffer | Error),
            (e: unknown) => ((settled = true), e as Error),
          );
          if (expected === undefined) {
            model.buf = snapshot;
            await tick();
            await tick();
            if (settled) throw new Error(`${what}: settled, but asyncio would wait for data`);
            // EOF wakes it; the model answers again with EOF set.
            reader.feedEof();
            model.eof = true;
            log.push('eof');
            expected = modelCall();
          }
          const got = await Promise.race([p, sleep(2000).then(() => new Error('still pending'))]);
          same(what, got, expected!);
          if (reader.atEof() !== (model.eof && model.buf.length === 0))
            throw new Error(
              `${what}: atEof() ${reader.atEof()}, model eof=${model.eof} buffered=${model.buf.length}`,
            );
        }
      },
    ),
    150,
  );
});

test('StreamReader: every method with wrong arguments throws or rejects typed', async (t) => {
  await check(
    t,
    'stream reader args',
    fc.asyncProperty(
      arg(fc.record({ limit: fc.integer({ min: 1, max: 8 }) }, { requiredKeys: [] })),
      fc.constantFrom(
        'feedData',
        'read',
        'readexactly',
        'readuntil',
        'setException',
        'setTransport',
        'feedEof',
        'exception',
        'atEof',
        'readline',
      ),
      garbage,
      async (opts, name, a) => {
        const reader = attempt(
          `new StreamReader(${show(opts)})`,
          () => new StreamReader(opts as never),
        );
        if (reader === undefined) return;
        reader.feedData(Buffer.from('ab\ncd'));
        reader.feedEof();
        const what = `reader.${name}(${show(a)})`;
        await attemptAsync(
          what,
          () =>
            (reader as unknown as Record<string, (x: unknown) => unknown>)[name]!.call(
              reader,
              a,
            ) as Promise<unknown>,
          2000,
        );
      },
    ),
    100,
  );
});

const writerOps: Array<[string, fc.Arbitrary<unknown[]>]> = [
  ['write', fc.tuple(arg(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.string({ maxLength: 8 }))))],
  ['writelines', fc.tuple(arg(fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 })))],
  ['writeEof', fc.tuple()],
  ['canWriteEof', fc.tuple()],
  ['close', fc.tuple()],
  ['isClosing', fc.tuple()],
  ['drain', fc.tuple()],
  ['waitClosed', fc.tuple()],
  [
    'getExtraInfo',
    fc.tuple(
      arg(fc.constantFrom<unknown>('peername', 'socket', ...prototypeKeys)),
      fc.constant('dflt'),
    ),
  ],
  ['get transport', fc.tuple()],
  ['tick', fc.tuple()],
];

for (const lk of loopKinds) {
  test(`${lk.name}: StreamWriter/StreamReader pairs from openConnection in random operation orders stay typed and end closed`, async (t) => {
    const { loop, settle } = lk.make();
    const errors: unknown[] = [];
    loop.setExceptionHandler((_l, ctx) => {
      errors.push(ctx);
    });
    const serverWriters: StreamWriter[] = [];
    const server = await startServer(
      (_r, w) => {
        serverWriters.push(w);
      },
      '127.0.0.1',
      0,
      { loop },
    );
    const port = (server.sockets()[0] as { port: number }).port;
    try {
      await check(
        t,
        `${lk.name} stream writer order`,
        fc.asyncProperty(
          fc.array(fc.oneof(...writerOps.map(([n, a]) => fc.tuple(fc.constant(n), a))), {
            minLength: 1,
            maxLength: 10,
          }),
          async (ops) => {
            const { reader, writer } = await openConnection('127.0.0.1', port, { loop });
            const log: string[] = [];
            const pending: Array<Promise<unknown>> = [];
            for (const [name, args] of ops) {
              log.push(name);
              if (name === 'tick') {
                await tick();
                continue;
              }
              const what = `writer.${name}(${args.map(show).join(', ')}) after [${log.join('; ')}]`;
              const w = writer as unknown as Record<string, unknown>;
              const result = attempt(what, () =>
                name.startsWith('get ')
                  ? w[name.slice(4)]
                  : (w[name] as (...a: unknown[]) => unknown).apply(writer, args),
              );
              if (
                name === 'getExtraInfo' &&
                prototypeKeys.includes(args[0] as never) &&
                result !== 'dflt'
              )
                throw new Error(`${what} gave ${show(result)}`);
              if (result instanceof Promise) pending.push(attemptAsync(what, () => result, 5000));
            }
            writer.close();
            for (const sw of serverWriters.splice(0)) sw.close();
            await attemptAsync(
              `waitClosed after [${log.join('; ')}]`,
              () => writer.waitClosed(),
              5000,
            );
            await Promise.all(pending);
            await attemptAsync('reader.read() after close', () => reader.read(), 5000);
            if (errors.length > 0)
              throw new Error(`exception handler: ${show(errors)} after [${log.join('; ')}]`);
          },
        ),
        25,
      );
    } finally {
      for (const sw of serverWriters) sw.close();
      server.close();
      await server.waitClosed();
      loop.close();
      await settle(t);
    }
  });
}
