// StreamReader's parsing and buffering, fed by hand (test_streams.py's
// StreamTests that need no connection). No loop is involved: the reader
// only awaits promises.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelledError,
  IncompleteReadError,
  LimitOverrunError,
  StreamReader,
  type ReadTransport,
} from 'asyncuv';

const DATA = Buffer.from('line1\nline2\nline3\n');

/** Records pause/resume calls, as a transport would see them. */
function fakeTransportCalls(reader: StreamReader): string[] {
  const calls: string[] = [];
  let reading = true;
  const transport = {
    pauseReading: () => {
      reading = false;
      calls.push('pause');
    },
    resumeReading: () => {
      reading = true;
      calls.push('resume');
    },
    isReading: () => reading,
  } as unknown as ReadTransport;
  reader.setTransport(transport);
  return calls;
}

test('the limit must be a positive integer', (t) => {
  t.throws(() => new StreamReader({ limit: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  t.throws(() => new StreamReader({ limit: -1 }), { code: 'ERR_OUT_OF_RANGE' });
  t.is(new StreamReader().limit, 2 ** 16);
});

test('feeding empty data buffers nothing; non-empty data is buffered', (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.alloc(0));
  t.is(reader.bufferedSize, 0);
  reader.feedData(DATA);
  t.is(reader.bufferedSize, DATA.length);
});

test('read(0) returns nothing and read(n) returns what is buffered up to n', async (t) => {
  const reader = new StreamReader();
  reader.feedData(DATA);
  t.is((await reader.read(0)).length, 0);
  t.is((await reader.read(5)).toString(), 'line1');
  t.is((await reader.read(1000)).toString(), '\nline2\nline3\n');
});

test('read(n) takes any integer n; anything else rejects and consumes nothing', async (t) => {
  const reader = new StreamReader();
  reader.feedData(DATA);
  for (const bad of [1.5, Number.NaN, Infinity, 2 ** 53 + 2]) {
    await t.throwsAsync(reader.read(bad), { code: 'ERR_OUT_OF_RANGE' }, String(bad));
  }
  for (const bad of ['5', 5n, null, {}]) {
    await t.throwsAsync(reader.read(bad as never), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  t.is(reader.bufferedSize, DATA.length);
  t.is((await reader.read(-0)).length, 0);
  t.is((await reader.read(2 ** 31)).toString(), DATA.toString());
  reader.feedData(DATA);
  reader.feedEof();
  t.deepEqual(await reader.read(-(2 ** 40)), DATA);
});

test('read waits for data fed later', async (t) => {
  const reader = new StreamReader();
  const pending = reader.read(30);
  await sleep(5);
  reader.feedData(DATA);
  t.deepEqual(await pending, DATA);
});

test('read() reads until EOF; read at EOF returns an empty buffer', async (t) => {
  const reader = new StreamReader({ limit: 4 });
  const all = reader.read();
  reader.feedData(Buffer.from('chunk1\n'));
  reader.feedData(Buffer.from('chunk2'));
  await sleep(1);
  reader.feedEof();
  t.is((await all).toString(), 'chunk1\nchunk2');
  t.is((await reader.read(10)).length, 0);
  t.true(reader.atEof());
});

test('read waiting at EOF resolves empty', async (t) => {
  const reader = new StreamReader();
  const pending = reader.read(1024);
  reader.feedEof();
  t.is((await pending).length, 0);
});

test('readline returns lines, waiting across chunks', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('chunk1 '));
  const pending = reader.readline();
  reader.feedData(Buffer.from('chunk2 '));
  await sleep(1);
  reader.feedData(Buffer.from('chunk3\nchunk4'));
  t.is((await pending).toString(), 'chunk1 chunk2 chunk3\n');
  t.is(reader.bufferedSize, 'chunk4'.length);
});

test('readline at EOF returns the unterminated rest, then an empty buffer', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('some data'));
  reader.feedEof();
  t.is((await reader.readline()).toString(), 'some data');
  t.is((await reader.readline()).length, 0);
});

test('readline with a line longer than the limit throws LimitOverrunError and discards the line', async (t) => {
  const reader = new StreamReader({ limit: 7 });
  reader.feedData(Buffer.from('1234567890\nline2\n'));
  await t.throwsAsync(reader.readline(), { instanceOf: LimitOverrunError });
  t.is((await reader.readline()).toString(), 'line2\n');

  // No separator within the limit: everything buffered is discarded.
  const noSep = new StreamReader({ limit: 7 });
  noSep.feedData(Buffer.from('0123456789'));
  await t.throwsAsync(noSep.readline(), { instanceOf: LimitOverrunError });
  t.is(noSep.bufferedSize, 0);
});

test('readline reads byte counts correctly when mixed with read', async (t) => {
  const reader = new StreamReader();
  reader.feedData(DATA);
  await reader.readline();
  t.is((await reader.read(7)).toString(), 'line2\nl');
  t.is(reader.bufferedSize, DATA.length - 'line1\n'.length - 7);
});

test('readuntil takes a multi-byte separator across chunks', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('lineAAA'));
  t.is((await reader.readuntil('AAA')).toString(), 'lineAAA');
  reader.feedData(Buffer.from('lineAA'));
  const pending = reader.readuntil(Buffer.from('AAA'));
  reader.feedData(Buffer.from('Axyz'));
  t.is((await pending).toString(), 'lineAAA');
  t.is((await reader.read(3)).toString(), 'xyz');
  await t.throwsAsync(reader.readuntil(''), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('readuntil at EOF throws IncompleteReadError with the partial data consumed', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('some dataAA'));
  reader.feedEof();
  const err = await t.throwsAsync(reader.readuntil('AAA'), { instanceOf: IncompleteReadError });
  t.is(err.partial.toString(), 'some dataAA');
  t.is(err.expected, null);
  t.is(reader.bufferedSize, 0);
});

test('readuntil leaves the data buffered when the separator is beyond the limit', async (t) => {
  const reader = new StreamReader({ limit: 3 });
  reader.feedData(Buffer.from('some dataAA'));
  const err = await t.throwsAsync(reader.readuntil('AAA'), { instanceOf: LimitOverrunError });
  t.true(err.consumed > 3);
  t.is(reader.bufferedSize, 'some dataAA'.length);
  const found = new StreamReader({ limit: 3 });
  found.feedData(Buffer.from('some dataAAA'));
  const err2 = await t.throwsAsync(found.readuntil('AAA'), { instanceOf: LimitOverrunError });
  t.is(err2.message, 'Separator is found, but chunk is longer than limit');
});

// asyncio 3.13's readuntil with a tuple of separators (test_streams.py's
// test_readuntil_multi_chunks_1 and the separator tests around it).
test('readuntil with several separators takes the match that ends first', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('one\r\ntwo\nthree;'));
  const seps = ['\r\n', '\n', Buffer.from(';')];
  t.is((await reader.readuntil(seps)).toString(), 'one\r\n');
  t.is((await reader.readuntil(seps)).toString(), 'two\n');
  t.is((await reader.readuntil(seps)).toString(), 'three;');
  // Across chunks: the longer separator completes later than the shorter one.
  const pending = reader.readuntil(['AAA', 'AB']);
  reader.feedData(Buffer.from('xAA'));
  reader.feedData(Buffer.from('B-'));
  t.is((await pending).toString(), 'xAAB');
  t.is((await reader.read(1)).toString(), '-');
  // Two matches that end at the same byte: the shorter one (asyncio's rule).
  reader.feedData(Buffer.from('abc'));
  t.is((await reader.readuntil(['bc', 'abc'])).toString(), 'abc');
  t.is(reader.bufferedSize, 0);
});

test('readuntil with several separators: errors, EOF and the limit', async (t) => {
  const reader = new StreamReader({ limit: 4 });
  await t.throwsAsync(reader.readuntil([]), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(reader.readuntil(['x', '']), { code: 'ERR_INVALID_ARG_VALUE' });
  await t.throwsAsync(reader.readuntil([1 as never]), { code: 'ERR_INVALID_ARG_TYPE' });
  await t.throwsAsync(reader.readuntil(5 as never), { code: 'ERR_INVALID_ARG_TYPE' });
  reader.feedData(Buffer.from('abcdefgh'));
  const over = await t.throwsAsync(reader.readuntil(['XY', 'Z']), {
    instanceOf: LimitOverrunError,
  });
  t.true(over.consumed > 4);
  t.is(reader.bufferedSize, 8, 'the data stays buffered');
  // A fresh reader: over its limit, that error comes first, also at EOF (asyncio too).
  const ended = new StreamReader();
  ended.feedData(Buffer.from('abcdefgh'));
  ended.feedEof();
  const err = await t.throwsAsync(ended.readuntil(['XY', 'Z']), {
    instanceOf: IncompleteReadError,
  });
  t.is(err.partial.toString(), 'abcdefgh');
});

test('readexactly waits for n bytes; zero and negative sizes', async (t) => {
  const reader = new StreamReader();
  t.is((await reader.readexactly(0)).length, 0);
  await t.throwsAsync(reader.readexactly(-1), { code: 'ERR_OUT_OF_RANGE' });
  const pending = reader.readexactly(2 * DATA.length);
  reader.feedData(DATA);
  await sleep(1);
  reader.feedData(DATA);
  reader.feedData(DATA);
  t.deepEqual(await pending, Buffer.concat([DATA, DATA]));
  t.deepEqual(await reader.read(DATA.length), DATA);
});

test('readexactly is not bound by the limit', async (t) => {
  const reader = new StreamReader({ limit: 3 });
  reader.feedData(DATA);
  t.deepEqual(await reader.readexactly(DATA.length), DATA);
});

test('readexactly at EOF throws IncompleteReadError with what arrived', async (t) => {
  const reader = new StreamReader();
  const pending = reader.readexactly(2 * DATA.length);
  reader.feedData(DATA);
  reader.feedEof();
  const err = await t.throwsAsync(pending, { instanceOf: IncompleteReadError });
  t.deepEqual(err.partial, DATA);
  t.is(err.expected, 2 * DATA.length);
  t.is(err.message, `${DATA.length} bytes read on a total of ${2 * DATA.length} expected bytes`);
  t.is(reader.bufferedSize, 0);
});

test('setException fails a waiting read and every later one', async (t) => {
  const reader = new StreamReader();
  const boom = new Error('boom');
  const pending = reader.readline();
  reader.setException(boom);
  t.is(await t.throwsAsync(pending), boom);
  t.is(reader.exception(), boom);
  reader.feedData(DATA);
  t.is(await t.throwsAsync(reader.read(2)), boom);
  t.is(await t.throwsAsync(reader.readexactly(2)), boom);
  t.is(await t.throwsAsync(reader.readuntil()), boom);
});

test('two reads may not wait at once', async (t) => {
  const reader = new StreamReader();
  const first = reader.read(1);
  await t.throwsAsync(reader.read(1), { code: 'ERR_CONCURRENT_READ' });
  reader.feedData(Buffer.from('x'));
  t.is((await first).toString(), 'x');
});

test('async iteration yields lines until EOF', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('line1\nline2\nrest'));
  reader.feedEof();
  const lines: string[] = [];
  for await (const line of reader) lines.push(line.toString());
  t.deepEqual(lines, ['line1\n', 'line2\n', 'rest']);
});

test('atEof is true only after EOF with nothing left', async (t) => {
  const reader = new StreamReader();
  t.false(reader.atEof());
  reader.feedData(Buffer.from('x'));
  reader.feedEof();
  t.false(reader.atEof());
  await reader.read(1);
  t.true(reader.atEof());
});

test('flow control: pauses the transport above twice the limit, resumes at the limit', async (t) => {
  const reader = new StreamReader({ limit: 10 });
  const calls = fakeTransportCalls(reader);
  reader.feedData(Buffer.alloc(20));
  t.deepEqual(calls, [], 'exactly 2 * limit does not pause');
  reader.feedData(Buffer.alloc(1));
  t.deepEqual(calls, ['pause']);
  reader.feedData(Buffer.alloc(5));
  t.deepEqual(calls, ['pause'], 'paused once');
  await reader.read(15);
  t.deepEqual(calls, ['pause'], '11 bytes left: still above the limit');
  await reader.read(1);
  t.deepEqual(calls, ['pause', 'resume']);
});

test('a read that needs more than is buffered resumes a paused transport', async (t) => {
  const reader = new StreamReader({ limit: 2 });
  const calls = fakeTransportCalls(reader);
  reader.feedData(Buffer.from('abcdef'));
  t.deepEqual(calls, ['pause']);
  const pending = reader.readexactly(10);
  await sleep(1);
  t.deepEqual(calls, ['pause', 'resume'], 'waiting for more data must not stay paused');
  reader.feedData(Buffer.from('ghij'));
  t.is((await pending).toString(), 'abcdefghij');
});

test('buffers handed out are never overwritten by later data', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('aaaa'));
  reader.feedData(Buffer.from('bbbb'));
  const first = await reader.read(6);
  reader.feedData(Buffer.from('cccccccc'));
  reader.feedData(Buffer.from('dddddddd'));
  const rest = await reader.read(100);
  t.is(first.toString(), 'aaaabb');
  t.is(rest.toString(), 'bbccccccccdddddddd');
});

test('feedData after feedEof is an error', (t) => {
  const reader = new StreamReader();
  reader.feedEof();
  t.throws(() => reader.feedData(Buffer.from('x')), { code: 'ERR_INVALID_STATE' });
});

test('feedData takes bytes only: anything else is a usage error', (t) => {
  const reader = new StreamReader();
  for (const bad of ['text', 42, null, undefined, [1, 2], new ArrayBuffer(2)]) {
    t.throws(() => reader.feedData(bad as never), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  reader.feedData(new Uint8Array([104, 105]));
  t.is(reader.bufferedSize, 2);
});

test('ERR_CONCURRENT_READ names the read that was called, not the one under it', async (t) => {
  const calls: Array<[string, (r: StreamReader) => Promise<unknown>]> = [
    ['read()', (r) => r.read(1)],
    ['read()', (r) => r.read()],
    ['readline()', (r) => r.readline()],
    ['readexactly()', (r) => r.readexactly(2)],
    ['readuntil()', (r) => r.readuntil('!')],
    ['lines()', (r) => r.lines().next()],
    ['async iteration', (r) => r[Symbol.asyncIterator]().next()],
  ];
  for (const [name, call] of calls) {
    const reader = new StreamReader();
    const waiting = reader.readline();
    const err = await t.throwsAsync(call(reader), { code: 'ERR_CONCURRENT_READ' });
    t.true(err!.message.startsWith(`${name} called while another read`), err!.message);
    reader.feedData(Buffer.from('ok\n'));
    t.is((await waiting).toString(), 'ok\n');
  }
});

test('an aborted signal rejects a read at once, with data buffered, consuming none', async (t) => {
  const reader = new StreamReader();
  reader.feedData(Buffer.from('line\nmore'));
  const reason = new Error('gone');
  const signal = AbortSignal.abort(reason);
  for (const read of [
    () => reader.read(2, { signal }),
    () => reader.read(-1, { signal }),
    () => reader.readline({ signal }),
    () => reader.readexactly(2, { signal }),
    () => reader.readuntil('\n', { signal }),
    () => reader.lines({ signal }).next(),
  ]) {
    const err = await t.throwsAsync(read, { instanceOf: CancelledError, code: 'ABORT_ERR' });
    t.is(err!.cause, reason);
  }
  t.is((await reader.readline()).toString(), 'line\n');
});

test('read(-1) aborted after several chunks keeps them all; it never pauses', async (t) => {
  const reader = new StreamReader({ limit: 4 });
  const calls = fakeTransportCalls(reader);
  const controller = new AbortController();
  const all = reader.read(-1, { signal: controller.signal });
  for (const piece of ['aaaa', 'bbbb', 'cccc', 'dddd']) {
    reader.feedData(Buffer.from(piece));
    await sleep(1);
  }
  // 16 bytes, four times the limit: a read to EOF must not pause, or EOF never comes.
  t.deepEqual(calls, []);
  controller.abort();
  await t.throwsAsync(all, { name: 'AbortError' });
  t.is(reader.bufferedSize, 16);
  reader.feedEof();
  t.is((await reader.read()).toString(), 'aaaabbbbccccdddd');
});

test('an abort while waiting withdraws the read: the next read may start at once', async (t) => {
  const reader = new StreamReader();
  const controller = new AbortController();
  const first = reader.readexactly(4, { signal: controller.signal });
  reader.feedData(Buffer.from('ab'));
  controller.abort();
  await t.throwsAsync(first, { name: 'AbortError' });
  const second = reader.readexactly(4);
  reader.feedData(Buffer.from('cd'));
  t.is((await second).toString(), 'abcd');
});

// docs/streams.md: a waiting read takes the bytes fed before setException in
// the same turn, and the error fails the next read (asyncio's feed_data
// wakes the read before set_exception can reach it). readline, readuntil and
// readexactly as read(n); read() to EOF fails, as asyncio's read(-1) does.
test('bytes fed before setException complete a waiting read; the error fails the next one', async (t) => {
  const boom = new Error('boom');
  const reads: Array<[string, (r: StreamReader) => Promise<Buffer>, string]> = [
    ['read(10)', (r) => r.read(10), 'ab\ncd'],
    ['readline()', (r) => r.readline(), 'ab\n'],
    ['readuntil()', (r) => r.readuntil('\n'), 'ab\n'],
    ['readexactly(4)', (r) => r.readexactly(4), 'ab\nc'],
  ];
  for (const [what, read, expected] of reads) {
    const reader = new StreamReader();
    const waiting = read(reader);
    reader.feedData(Buffer.from('ab\ncd'));
    reader.setException(boom);
    t.is(String(await waiting), expected, what);
    t.is(await t.throwsAsync(reader.read(1)), boom, `${what}: the next read`);
  }
  // Not enough for the read: the error is its answer.
  const short = new StreamReader();
  const waiting = short.readexactly(10);
  short.feedData(Buffer.from('ab'));
  short.setException(boom);
  t.is(await t.throwsAsync(waiting), boom);
  const toEof = new StreamReader();
  const all = toEof.read();
  toEof.feedData(Buffer.from('ab'));
  toEof.setException(boom);
  t.is(await t.throwsAsync(all), boom);
});

// docs/streams.md: a read that takes all of one fed chunk returns that
// Buffer itself, with no copy (the memory became the reader's in feedData).
test('a read that takes all of one fed chunk returns that Buffer itself', async (t) => {
  const reads: Array<[string, (r: StreamReader) => Promise<Buffer>]> = [
    ['read(n)', (r) => r.read(100)],
    ['read()', (r) => r.read()],
    ['readline()', (r) => r.readline()],
    ['readuntil()', (r) => r.readuntil('\n')],
    ['readexactly()', (r) => r.readexactly(4)],
  ];
  for (const [what, read] of reads) {
    const reader = new StreamReader();
    const chunk = Buffer.from('abc\n');
    const waiting = read(reader);
    reader.feedData(chunk);
    reader.feedEof();
    t.is(await waiting, chunk, `${what}, waiting`);
    const ready = new StreamReader();
    const fed = Buffer.from('abc\n');
    ready.feedData(fed);
    ready.feedEof();
    t.is(await read(ready), fed, `${what}, buffered`);
  }
});
