// How pipe transports end and throttle (unix_events' _UnixWritePipeTransport:
// write_eof closes once the buffer is out, abort drops it, flow control
// with pause_writing/resume_writing; _UnixReadPipeTransport: pause_reading
// and resume_reading repeated, close; test_unix_events.py's
// UnixWritePipeTransportTests and UnixReadPipeTransportTests behaviours).
import { writeSync } from 'node:fs';
import { makeFifo } from '../fifo.js';
import { featureCasesWith, type MakeLoop, type Test, until, within } from '../harness.js';
import { CallLog } from '../protocols.js';

export function pipeEnds(test: Test, makeLoop: MakeLoop, name: string): void {
  const it = featureCasesWith(test, makeLoop, 'pipes', name, makeFifo, (fifo) => fifo.dispose());

  it('a write pipe and a read pipe: writeEof() flushes, closes, and the reader sees EOF', async ({
    loop,
  }, t, fifo) => {
    const [reader, readProto] = await loop.connectReadPipe(() => new CallLog(), fifo.readFd);
    const [writer, writeProto] = await loop.connectWritePipe(() => new CallLog(), fifo.writeFd);
    fifo.closeRead = fifo.closeWrite = () => {};
    const big = Buffer.alloc(512 * 1024, 'e');
    writer.write(big);
    writer.write('tail');
    t.true(writer.canWriteEof());
    writer.writeEof();
    t.true(writer.isClosing(), 'a write pipe closes with writeEof()');
    t.is(await within(writeProto.lost.promise, 'write side connectionLost'), null);
    t.is(await within(readProto.lost.promise, 'read side connectionLost'), null);
    const got = Buffer.concat(readProto.data);
    t.is(got.length, big.length + 4);
    t.is(got.subarray(-4).toString(), 'tail');
    t.deepEqual(readProto.calls, ['made', 'data', 'eof', 'lost']);
    t.deepEqual(
      writeProto.calls.filter((c) => c !== 'pause' && c !== 'resume'),
      ['made', 'lost'],
    );
    reader.close();
  });

  it('a write pipe pauses writing above high while the reader waits, and resumes', async ({
    loop,
  }, t, fifo) => {
    const [writer, proto] = await loop.connectWritePipe(() => new CallLog(), fifo.writeFd);
    fifo.closeWrite = () => {};
    writer.setWriteBufferLimits({ high: 16 * 1024, low: 1024 });
    const chunk = Buffer.alloc(64 * 1024, 'f');
    let written = 0;
    while (!proto.calls.includes('pause') && written < 64 * 1024 * 1024) {
      writer.write(chunk);
      written += chunk.length;
    }
    t.deepEqual(proto.calls, ['made', 'pause']);
    t.true(writer.getWriteBufferSize() > 16 * 1024, `paused at ${writer.getWriteBufferSize()}`);
    let read = 0;
    await until(() => {
      read += fifo.readNow().length;
      return proto.calls.includes('resume');
    }, 'resumeWriting');
    t.true(writer.getWriteBufferSize() <= 1024, `resumed at ${writer.getWriteBufferSize()}`);
    await until(() => (read += fifo.readNow().length) === written, 'every byte');
    writer.close();
    t.is(await within(proto.lost.promise, 'connectionLost'), null);
    t.deepEqual(proto.calls, ['made', 'pause', 'resume', 'lost']);
  });

  it('abort() on a write pipe drops its buffer: size 0, connectionLost(null), no resume', async ({
    loop,
  }, t, fifo) => {
    const [writer, proto] = await loop.connectWritePipe(() => new CallLog(), fifo.writeFd);
    fifo.closeWrite = () => {};
    writer.write(Buffer.alloc(1024 * 1024, 'g'));
    t.true(writer.getWriteBufferSize() > 0, 'a full pipe leaves bytes queued');
    writer.abort();
    t.is(writer.getWriteBufferSize(), 0);
    t.is(await within(proto.lost.promise, 'connectionLost'), null);
    t.false(proto.calls.includes('resume'), 'an abort does not resume writing');
  });

  it('a read pipe: pauseReading and resumeReading repeated; close() while paused', async ({
    loop,
  }, t, fifo) => {
    const [reader, proto] = await loop.connectReadPipe(() => new CallLog(), fifo.readFd);
    fifo.closeRead = () => {};
    reader.pauseReading();
    reader.pauseReading();
    t.false(reader.isReading());
    writeSync(fifo.writeFd, 'held');
    await new Promise((r) => setTimeout(r, 20));
    t.deepEqual(proto.calls, ['made'], 'nothing while paused');
    reader.resumeReading();
    reader.resumeReading();
    t.true(reader.isReading());
    await until(() => Buffer.concat(proto.data).toString() === 'held', 'the held bytes');
    reader.pauseReading();
    reader.close();
    t.false(reader.isReading(), 'a closing pipe is not reading');
    t.notThrows(() => reader.resumeReading());
    t.false(reader.isReading());
    t.is(await within(proto.lost.promise, 'connectionLost'), null);
    t.deepEqual(proto.calls, ['made', 'data', 'lost']);
  });
}
